namespace DeepEP.Distributed;

/// <summary>
/// A rank that the others left out of a shrink-mode all-to-all (it missed their deadline) called a collective before
/// being readmitted. Unlike other failures it does not break this rank's group: the rank can still be readmitted.
/// </summary>
internal sealed class RankLeftOutException(string message) : ProcessGroupException(message);
