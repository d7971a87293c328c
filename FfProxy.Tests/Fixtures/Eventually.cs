namespace FfProxy.Tests.Fixtures;

/// <summary>Polls a condition that becomes true asynchronously (file watching, streams), with a deadline.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan? within = null, string? because = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Condition not met in time" + (because is null ? "" : ": " + because));
            }

            await Task.Delay(50);
        }
    }
}
