using System.Net.Http.Json;

namespace FfProxy.Bench.ScaleProbe;

/// <summary>The fake SaaS's control API (bench/ScaleSaas/ControlApi.cs).</summary>
public sealed class SaasControl(HttpClient http)
{
    public async Task<AccountView> AccountAsync() =>
        (await http.GetFromJsonAsync("control/account", ProbeJsonContext.Default.AccountView))!;

    public async Task<PatchesStarted> PatchesAsync(int count, double seconds, bool silent) =>
        (await (await PostAsync($"control/patches?count={count}&seconds={seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}&silent={(silent ? "true" : "false")}"))
            .ReadFromJsonAsync(ProbeJsonContext.Default.PatchesStarted))!;

    public async Task<EnvironmentsAdded> AddEnvironmentsAsync(int count) =>
        (await (await PostAsync($"control/environments?count={count}")).ReadFromJsonAsync(ProbeJsonContext.Default.EnvironmentsAdded))!;

    public async Task<long> OutageAsync() => (await (await PostAsync("control/outage")).ReadFromJsonAsync(ProbeJsonContext.Default.ControlDone))!.At;

    public async Task<long> ReconnectAsync() => (await (await PostAsync("control/reconnect")).ReadFromJsonAsync(ProbeJsonContext.Default.ControlDone))!.At;

    public async Task<StatsView> StatsAsync() => (await http.GetFromJsonAsync("control/stats", ProbeJsonContext.Default.StatsView))!;

    private async Task<HttpContent> PostAsync(string path)
    {
        var response = await http.PostAsync(path, null);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"fake SaaS {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return response.Content;
    }
}
