namespace DeepEP.Cli.Bench;

/// <summary>What one rank measured and checked for one operation.</summary>
internal sealed record RankMeasurement(string Operation, string Mode, int Sms, Timing Timing, long Bytes, bool Correct, string Check);
