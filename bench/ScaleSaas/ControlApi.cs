using System.Diagnostics;
using System.Text.Json;

namespace FfProxy.Bench.ScaleSaas;

/// <summary>
/// What the benchmark drives: a storm of flag patches, <c>environmentsAdded</c>, an outage of the account stream
/// with silent changes meanwhile, and the request counts per route. Times are Unix milliseconds.
/// </summary>
public sealed class ControlApi(Account account, EventStreams stream, RouteStats stats, TimeProvider time)
{
    private long _eventsSent;

    public void Map(WebApplication app)
    {
        var control = app.MapGroup("/control");
        control.MapGet("/account", () => Results.Json(
            new AccountView(account.Flags, account.Groups, account.Environments()), ScaleJsonContext.Default.AccountView));
        control.MapPost("/patches", Patches);
        control.MapPost("/environments", AddEnvironments);
        control.MapPost("/outage", () =>
        {
            stream.BeginOutage();
            stats.Mark("outage");
            return Done();
        });
        control.MapPost("/reconnect", () =>
        {
            stream.EndOutage();
            stats.Mark("reconnect");
            return Done();
        });
        control.MapGet("/stats", () => Results.Json(
            new StatsView(Now(), account.Count, stream.Open, stream.Refusing, Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
                Interlocked.Read(ref _eventsSent), stats.Counts(), stats.Marks()),
            ScaleJsonContext.Default.StatsView));
    }

    /// <summary>
    /// <c>POST /control/patches?count=K&amp;seconds=S&amp;silent=false</c>: raises the version of the next K flags
    /// (spread over the environments) one after another, evenly over S seconds, each followed by its <c>patch</c>
    /// event unless silent (an outage). Answers at once with the versions SaaS will serve once done.
    /// </summary>
    private IResult Patches(int count, double? seconds, bool? silent)
    {
        if (count <= 0 || account.Count == 0)
        {
            return Results.BadRequest("count must be positive and the account must have environments");
        }

        var changes = account.PlanPatches(count);
        var started = Now();
        var window = TimeSpan.FromSeconds(Math.Max(0, seconds ?? 0));
        var events = silent != true;
        _ = Task.Run(async () =>
        {
            var start = time.GetTimestamp();
            for (var i = 0; i < changes.Count; i++)
            {
                var due = window * i / changes.Count - time.GetElapsedTime(start);
                if (due > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(due, time);
                }

                var change = changes[i];
                var version = account.Patch(change.Environment, change.Flag);
                if (events)
                {
                    Send(JsonSerializer.Serialize(new ItemEvent("patch", "flag", change.Flag, version, change.Environment), ScaleJsonContext.Default.ItemEvent));
                }
            }

            stats.Mark(events ? "patches-sent" : "patches-made");
        });
        return Results.Json(new PatchesStarted(started, changes), ScaleJsonContext.Default.PatchesStarted);
    }

    /// <summary><c>POST /control/environments?count=E</c>: E new environments granted to the key, announced in one <c>environmentsAdded</c>.</summary>
    private IResult AddEnvironments(int count)
    {
        if (count <= 0)
        {
            return Results.BadRequest("count must be positive");
        }

        var added = account.AddEnvironments(count);
        var started = Now();
        Send(JsonSerializer.Serialize(new ProxyEvent("environmentsAdded", "proxy", [.. added.Select(e => e.Id)]), ScaleJsonContext.Default.ProxyEvent));
        return Results.Json(new EnvironmentsAdded(started, added), ScaleJsonContext.Default.EnvironmentsAdded);
    }

    private void Send(string json)
    {
        stream.Send(json);
        Interlocked.Increment(ref _eventsSent);
    }

    private IResult Done() => Results.Json(new ControlDone(Now()), ScaleJsonContext.Default.ControlDone);

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();
}
