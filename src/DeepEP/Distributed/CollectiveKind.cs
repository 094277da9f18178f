namespace DeepEP.Distributed;

/// <summary>Which collective a rank called; every rank must call the same kinds in the same order. Values go over the wire.</summary>
internal enum CollectiveKind : byte
{
    /// <summary>The TCP join: every rank connects to rank 0 before the first collective.</summary>
    Rendezvous = 0,

    /// <summary><see cref="ProcessGroup.AllGather"/>.</summary>
    AllGather = 1,

    /// <summary><see cref="ProcessGroup.AllToAll"/>.</summary>
    AllToAll = 2,

    /// <summary><see cref="ProcessGroup.Broadcast"/>.</summary>
    Broadcast = 3,

    /// <summary><see cref="ProcessGroup.Barrier"/>.</summary>
    Barrier = 4,

    /// <summary>
    /// An all-to-all of shrink mode (<see cref="IShrinkingGroup.AllToAllLeavingOutLateRanks"/>): ranks that miss the deadline
    /// are left out of it and of every later one until readmitted. In-process groups only; never on the wire.
    /// </summary>
    ShrinkingAllToAll = 5,

    /// <summary><see cref="IShrinkingGroup.Readmit"/>: a barrier of every rank that readmits the ranks left out. Never on the wire.</summary>
    Readmit = 6,
}
