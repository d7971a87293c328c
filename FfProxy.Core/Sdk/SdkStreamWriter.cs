using Microsoft.AspNetCore.Http;

namespace FfProxy.Core.Sdk;

/// <summary>
/// Writes one SDK stream's queued frames (events from the <see cref="SdkStreamHub"/>, keep-alives from the
/// <see cref="SdkStreamHeartbeat"/>) to its response. While idle it awaits only its connection's queue: the SDK going
/// away completes that queue through one registration on the request's token (not one per wait), and the frames are
/// shared arrays, so an idle stream allocates nothing.
/// </summary>
internal static class SdkStreamWriter
{
    /// <summary>Runs until the hub closes the stream (the SDK then reconnects) or the SDK goes away.</summary>
    public static async Task RunAsync(HttpResponse response, SdkStreamConnection connection, TimeProvider time, CancellationToken aborted)
    {
        var body = response.BodyWriter;
        await body.FlushAsync(aborted).ConfigureAwait(false);
        using var registration = aborted.UnsafeRegister(static state => ((SdkStreamConnection)state!).Complete(), connection);
        while (await connection.WaitToReadAsync().ConfigureAwait(false))
        {
            while (connection.TryRead(out var frame))
            {
                // One frame per flush, never an event coalesced with a heartbeat (the Node SDK drops chunks starting with ':').
                var flushed = await body.WriteAsync(frame, aborted).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return;
                }

                connection.Wrote(time.GetTimestamp());
            }
        }
    }
}
