namespace DeepEP.Cli.Launch;

/// <summary>Rank <paramref name="Rank"/> of a <see cref="RankLauncher"/> exited with <paramref name="Status"/> (128 + the signal when a signal ended it).</summary>
public sealed record RankExit(int Rank, int Status);
