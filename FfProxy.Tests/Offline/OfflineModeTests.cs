using System.Diagnostics;
using System.Net;
using System.Text.Json;
using FfProxy.Core.Caching;
using FfProxy.Tests.Fixtures;

namespace FfProxy.Tests.Offline;

public sealed class OfflineModeTests : IAsyncLifetime, IDisposable
{
    private readonly CapturedLogs _logs = new();
    private PrimaryHost _proxy = null!;
    private string _token = "";
    private string _envDir = "";

    public async Task InitializeAsync()
    {
        _proxy = PrimaryHost.StartOffline(logs: _logs);
        _token = await _proxy.AuthenticateAsync(Sample.ServerKey);
        _envDir = Sample.EnvironmentDirectory(_proxy.ConfigDir);
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    public void Dispose() => _logs.Dispose();

    [Fact]
    public async Task Edited_flag_reaches_connected_streams_as_a_patch_within_a_second()
    {
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);
        var edited = EditedFlags(json => json.Replace("\"defaultServe\": { \"variation\": \"false\" }", "\"defaultServe\": { \"variation\": \"true\" }", StringComparison.Ordinal)
            .Replace("\"version\": 1,\n    \"variations\": [\n      { \"identifier\": \"true\", \"name\": \"On\"", "\"version\": 2,\n    \"variations\": [\n      { \"identifier\": \"true\", \"name\": \"On\"", StringComparison.Ordinal));

        // The promise is measured from the edit (the write), not from preparing it.
        var watch = Stopwatch.StartNew();
        File.WriteAllText(FlagsPath, edited);
        var change = await stream.NextEventAsync(TimeSpan.FromSeconds(3));
        watch.Stop();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"event took {watch.Elapsed}");
        Assert.Equal("patch", change.GetProperty("event").GetString());
        Assert.Equal("flag", change.GetProperty("domain").GetString());
        Assert.Equal("dark_mode", change.GetProperty("identifier").GetString());
        Assert.Equal(2, change.GetProperty("version").GetInt64());
        Assert.Equal(Sample.Environment, change.GetProperty("environment").GetString());
        await AssertNextEventIsALaterEditAsync(stream, "only the changed flag is announced");

        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ServerKey);
        using var flag = JsonDocument.Parse(await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs/dark_mode"));
        Assert.Equal("true", flag.RootElement.GetProperty("defaultServe").GetProperty("variation").GetString());
    }

    [Fact]
    public async Task Edit_without_a_version_bump_is_served_with_the_next_version_once()
    {
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ServerKey);

        EditFlags(json => json.Replace("Welcome to the shop", "Welcome back", StringComparison.Ordinal));
        var change = await stream.NextEventAsync(TimeSpan.FromSeconds(3));
        File.SetLastWriteTimeUtc(Path.Combine(_envDir, "feature_config.json"), DateTime.UtcNow.AddSeconds(5)); // same content, reloaded again

        Assert.Equal(("banner_text", 2L), (change.GetProperty("identifier").GetString(), change.GetProperty("version").GetInt64()));
        await AssertNextEventIsALaterEditAsync(stream, "an unchanged file is not announced again");
        using var flag = JsonDocument.Parse(await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs/banner_text"));
        Assert.Equal(2, flag.RootElement.GetProperty("version").GetInt64());
        using var list = JsonDocument.Parse(await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs"));
        Assert.Equal(2, list.RootElement.EnumerateArray().Single(f => f.GetProperty("feature").GetString() == "banner_text").GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Added_and_removed_flags_become_create_and_delete_events()
    {
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);

        EditFlags(json => json.TrimEnd().TrimEnd(']') + ",\n  {\"feature\":\"fresh\",\"kind\":\"boolean\",\"state\":\"off\",\"version\":4,\"variations\":[{\"identifier\":\"a\",\"value\":\"true\"},{\"identifier\":\"b\",\"value\":\"false\"}],\"defaultServe\":{\"variation\":\"a\"},\"offVariation\":\"b\"}\n]");
        var created = await stream.NextEventAsync(TimeSpan.FromSeconds(3));
        EditFlags(json => json[..json.LastIndexOf(",\n  {\"feature\":\"fresh\"", StringComparison.Ordinal)] + "\n]");
        var deleted = await stream.NextEventAsync(TimeSpan.FromSeconds(3));

        Assert.Equal(("create", "fresh", 4L), (created.GetProperty("event").GetString(), created.GetProperty("identifier").GetString(), created.GetProperty("version").GetInt64()));
        Assert.Equal(("delete", "fresh"), (deleted.GetProperty("event").GetString(), deleted.GetProperty("identifier").GetString()));
    }

    [Fact]
    public async Task Edited_target_group_becomes_a_target_segment_patch()
    {
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);
        var path = Path.Combine(_envDir, "segments.json");

        File.WriteAllText(path, File.ReadAllText(path).Replace("\"values\": [\"beta\"]", "\"values\": [\"gold\"]", StringComparison.Ordinal));
        var change = await stream.NextEventAsync(TimeSpan.FromSeconds(3));

        Assert.Equal(("patch", "target-segment", "beta-testers"), (change.GetProperty("event").GetString(), change.GetProperty("domain").GetString(), change.GetProperty("identifier").GetString()));
    }

    [Fact]
    public async Task Malformed_file_is_rejected_and_the_last_good_config_keeps_serving()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ServerKey);
        var before = await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs");

        File.WriteAllText(Path.Combine(_envDir, "feature_config.json"), "[ { \"feature\": \"half-written\", ");
        await RejectedAsync("feature_config.json: not valid JSON");

        Assert.Equal(before, await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs"));
        Assert.Equal(HttpStatusCode.OK, (await _proxy.Client.PostAsync("/client/auth", Json($"{{\"apiKey\":\"{Sample.ServerKey}\"}}"))).StatusCode);
    }

    [Fact]
    public async Task Flag_with_wrong_field_types_rejects_the_file()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ServerKey);
        var before = await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs");

        EditFlags(json => json.Replace("\"version\": 1,", "\"version\": \"one\",", StringComparison.Ordinal));
        await RejectedAsync("feature_config.json: item ");

        Assert.Equal(before, await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs"));
    }

    [Fact]
    public async Task Flag_with_a_null_rule_entry_rejects_the_file()
    {
        using var sdk = await _proxy.AuthenticatedClientAsync(Sample.ServerKey);
        var before = await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs");

        EditFlags(json => json.Replace("\"rules\": [\n      {\n        \"ruleId\": \"staff-get-dark-mode\"", "\"rules\": [ null,\n      {\n        \"ruleId\": \"staff-get-dark-mode\"", StringComparison.Ordinal));
        await RejectedAsync("feature_config.json: item ");

        Assert.Equal(before, await sdk.GetStringAsync($"/client/env/{Sample.Environment}/feature-configs"));
        Assert.Equal(HttpStatusCode.OK, (await sdk.GetAsync($"/client/env/{Sample.Environment}/target/x/evaluations")).StatusCode);
    }

    [Fact]
    public async Task Added_sdk_key_authenticates_and_removed_key_invalidates_its_tokens()
    {
        const string newKey = "added-offline-key";
        var authPath = Path.Combine(_envDir, "auth_config.json");
        var serverHash = SdkKeyHash.Compute(Sample.ServerKey);
        var clientHash = SdkKeyHash.Compute(Sample.ClientKey);
        await using var stream = await SseClient.ConnectAsync(_proxy.BaseAddress, _token, Sample.ServerKey);

        File.WriteAllText(authPath, $"[\"{serverHash}\", \"{clientHash}\", \"{SdkKeyHash.Compute(newKey)}\"]");
        await Eventually.TrueAsync(async () => (await _proxy.Client.PostAsync("/client/auth", Json($"{{\"apiKey\":\"{newKey}\"}}"))).StatusCode == HttpStatusCode.OK);

        File.WriteAllText(authPath, $"[\"{clientHash}\"]");
        await Eventually.TrueAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/client/env/{Sample.Environment}/feature-configs");
            request.Headers.Authorization = new("Bearer", _token);
            return (await _proxy.Client.SendAsync(request)).StatusCode == HttpStatusCode.Unauthorized;
        });

        Assert.Equal(HttpStatusCode.Unauthorized, (await _proxy.Client.PostAsync("/client/auth", Json($"{{\"apiKey\":\"{Sample.ServerKey}\"}}"))).StatusCode);
        await stream.Completion.WaitAsync(TimeSpan.FromSeconds(3)); // streams of the environment were closed
    }

    [Fact]
    public async Task New_environment_directory_is_served_and_a_removed_one_is_gone()
    {
        const string key = "second-env-key";
        var second = Path.Combine(_proxy.ConfigDir, "nested", "env-second");
        Directory.CreateDirectory(second);
        File.WriteAllText(Path.Combine(second, "auth_config.json"), $"[\"{SdkKeyHash.Compute(key)}\"]");
        File.Copy(Path.Combine(_envDir, "feature_config.json"), Path.Combine(second, "feature_config.json"));

        string token = "";
        await Eventually.TrueAsync(async () =>
        {
            using var response = await _proxy.Client.PostAsync("/client/auth", Json($"{{\"apiKey\":\"{key}\"}}"));
            token = response.IsSuccessStatusCode ? JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("authToken").GetString()! : "";
            return response.IsSuccessStatusCode;
        });
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/client/env/second/feature-configs"))
        {
            request.Headers.Authorization = new("Bearer", token);
            using var response = await _proxy.Client.SendAsync(request);
            Assert.Equal(4, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetArrayLength());
        }

        Directory.Delete(second, recursive: true);

        await Eventually.TrueAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/client/env/second/feature-configs");
            request.Headers.Authorization = new("Bearer", token);
            return (await _proxy.Client.SendAsync(request)).StatusCode == HttpStatusCode.Unauthorized;
        });
    }

    [Fact]
    public async Task Health_reports_synced_connected_and_a_healthy_cache()
    {
        using var health = JsonDocument.Parse(await _proxy.Client.GetStringAsync("/health"));

        Assert.Equal("SYNCED", health.RootElement.GetProperty("configStatus").GetProperty("state").GetString());
        Assert.Equal("CONNECTED", health.RootElement.GetProperty("streamStatus").GetProperty("state").GetString());
        Assert.True(health.RootElement.GetProperty("streamStatus").GetProperty("since").GetInt64() > 1_600_000_000_000);
        Assert.Equal("healthy", health.RootElement.GetProperty("cacheStatus").GetString());
    }

    /// <summary>Waits for the loader to log that it refused the environment's files, for the given reason (the whole file read, not a partial write).</summary>
    private Task RejectedAsync(string reason) => Eventually.TrueAsync(
        () => Task.FromResult(_logs.Lines.Any(l => l.Contains("rejected, keeping its last good version: " + reason, StringComparison.Ordinal))),
        TimeSpan.FromSeconds(5), $"the edit was seen and rejected ({reason})");

    /// <summary>
    /// Edits the target group and expects its patch as the next event: reloads are sequential and a reload's events
    /// go out in order, so anything announced earlier would come first. A sentinel instead of a quiet window.
    /// </summary>
    private async Task AssertNextEventIsALaterEditAsync(SseClient stream, string because)
    {
        var path = Path.Combine(_envDir, "segments.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"values\": [\"beta\"]", "\"values\": [\"gold\"]", StringComparison.Ordinal));
        var next = await stream.NextEventAsync(TimeSpan.FromSeconds(3));
        Assert.True(next.GetProperty("domain").GetString() == "target-segment" && next.GetProperty("identifier").GetString() == "beta-testers",
            $"{because}; came first: {next}");
    }

    private string FlagsPath => Path.Combine(_envDir, "feature_config.json");

    private string EditedFlags(Func<string, string> edit)
    {
        var before = File.ReadAllText(FlagsPath);
        var after = edit(before);
        Assert.NotEqual(before, after);
        return after;
    }

    private void EditFlags(Func<string, string> edit) => File.WriteAllText(FlagsPath, EditedFlags(edit));

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");
}
