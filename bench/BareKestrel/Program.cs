// "Bare Kestrel": serves responses captured from a running Replica (status, content type, body bytes) by path and
// query, with nothing in between, so bench/sdk-ratios.sh can put the proxy's figures next to the practical limit.
//
//   RESPONSES=<dir with manifest.tsv> PORT=<port> dotnet BareKestrel.dll
//
// manifest.tsv: one response a line, tab-separated: path-and-query, status, content type, body file (relative).
using System.Collections.Frozen;
using System.Globalization;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var port = Environment.GetEnvironmentVariable("PORT") ?? "17110";
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");

var directory = Environment.GetEnvironmentVariable("RESPONSES")
    ?? throw new InvalidOperationException("RESPONSES must name the directory holding manifest.tsv");
var responses = File.ReadAllLines(Path.Combine(directory, "manifest.tsv"))
    .Where(line => line.Length > 0)
    .Select(line => line.Split('\t'))
    .ToFrozenDictionary(
        fields => fields[0],
        fields => new Captured(
            int.Parse(fields[1], CultureInfo.InvariantCulture), fields[2], File.ReadAllBytes(Path.Combine(directory, fields[3]))),
        StringComparer.Ordinal);

var app = builder.Build();
app.Run(context =>
{
    var request = context.Request;
    var key = request.QueryString.HasValue ? request.Path.Value + request.QueryString.Value : request.Path.Value ?? "/";
    if (!responses.TryGetValue(key, out var captured))
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }
    var response = context.Response;
    response.StatusCode = captured.Status;
    if (captured.ContentType.Length > 0)
    {
        response.ContentType = captured.ContentType;
    }
    response.ContentLength = captured.Body.Length;
    return response.Body.WriteAsync(captured.Body).AsTask();
});
app.Run();

internal sealed record Captured(int Status, string ContentType, byte[] Body);
