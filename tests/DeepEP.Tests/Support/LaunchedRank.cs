namespace DeepEP.Tests.Support;

/// <summary>
/// How one rank of a run with a casualty ended: its exit status (null when it was still running at the end, a
/// stopped casualty), its lines of output, and the seconds from the casualty's fault to its exit.
/// </summary>
internal sealed record LaunchedRank(int Rank, int? ExitCode, string Output, double? SecondsToExit);
