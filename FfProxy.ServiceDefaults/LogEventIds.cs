namespace FfProxy;

/// <summary>
/// Every log event id of every FfProxy process, one nested class per area, so an id is chosen in one place and
/// never reused (FfProxy.Tests checks that no two log messages share one). Operators filter logs on these ids.
/// </summary>
public static class LogEventIds
{
    public static class Configuration
    {
        public const int Mode = 101;
        public const int DefaultSecret = 102;
        public const int BypassAuth = 103;
        public const int IgnoredPoolVariables = 104;
    }

    public static class PrimaryConfigStore
    {
        public const int EnvironmentReplaced = 201;
        public const int EnvironmentRemoved = 202;
        public const int PublishFailed = 203;
    }

    public static class Caching
    {
        public const int BadStoredTarget = 301;
        public const int Unreadable = 302;
        public const int Invalid = 303;
        public const int Miss = 304;
        public const int Restored = 305;
    }

    public static class Sdk
    {
        public const int PingFailed = 401;
        public const int CacheHealth = 402;
        public const int Healthy = 403;
        public const int Unhealthy = 404;
        public const int Unreachable = 405;
        public const int Published = 406;
        public const int Closed = 407;
        public const int SlowClient = 408;
        public const int TickFailed = 409;
        public const int StreamOpened = 410;
        public const int StreamClosed = 411;
        public const int BadTargetHeader = 412;
        public const int TargetLookupFailed = 413;
        public const int TargetSaveFailed = 414;
        public const int EvaluationFailed = 415;
        public const int TargetTooLarge = 416;
        public const int StoreUnavailable = 417;
        public const int HeartbeatDisabled = 418;
        public const int TargetBudgetSpent = 419;
    }

    public static class Hosting
    {
        public const int Restarting = 501;
    }

    public static class PrimarySaas
    {
        public const int RequestFailed = 601;
        public const int Synced = 602;
        public const int SyncFailed = 603;
        public const int ConfigProblem = 604;
        public const int ForeignInventory = 605;
        public const int RefreshFailed = 606;
        public const int RetrySucceeded = 607;
        public const int RetryFailed = 608;
        public const int RetryGaveUp = 609;
        public const int RetryCrashed = 610;
        public const int UnknownEvent = 611;
        public const int UnknownEnvironment = 612;
        public const int EnvironmentAdded = 613;
        public const int ProxyKeyDeleted = 614;
        public const int Repopulated = 615;
        public const int FlushFailed = 616;
        public const int StateChanged = 617;
        public const int StoreFailed = 618;
        public const int Failed = 619;
        public const int StoreLost = 620;
        public const int StreamEnded = 621;
        public const int StreamFailed = 622;
        public const int Reauthenticating = 623;
        public const int Idle = 624;
        public const int BadEvent = 625;
        public const int Event = 626;
        public const int ApplyFailed = 627;
    }

    public static class PrimaryOffline
    {
        public const int Loaded = 701;
        public const int Rejected = 702;
        public const int ReloadFailed = 703;
        public const int WatcherError = 704;
        public const int DuplicateEnvironment = 705;
        public const int Exported = 706;
        public const int Failed = 707;
        public const int WriteFailed = 708;
        public const int RemovedStale = 709;
    }

    public static class Gateway
    {
        public const int Retry = 801;
        public const int MarkedDown = 802;
        public const int StreamUpstreamFailed = 803;
        public const int FeedEnded = 804;
    }

    public static class PrimaryMetrics
    {
        public const int Disabled = 901;
        public const int DroppedWithoutToken = 902;
        public const int PostFailed = 903;
        public const int FlushCrashed = 904;
        public const int HeldForToken = 905;
        public const int ShutdownFlushCut = 906;
        public const int ReadFailed = 907;
        public const int BadEntry = 908;
        public const int ReadCrashed = 909;
    }

    public static class Evaluation
    {
        public const int Cycle = 1001;
        public const int TooDeep = 1002;
        public const int GroupCycle = 1003;
        public const int RuleWithoutServe = 1004;
        public const int RegexTimeout = 1005;
    }

    public static class Saas
    {
        public const int Dropped = 1101;
        public const int Failed = 1102;
    }

    public static class ReplicaReplication
    {
        public const int RedisFailed = 1201;
        public const int BadMessage = 1202;
        public const int Resubscribed = 1203;
        public const int StreamState = 1204;
        public const int Preloaded = 1205;
        public const int Reconciled = 1206;
        public const int StoreFailed = 1207;
        public const int Buffered = 1208;
        public const int Drained = 1209;
    }
}
