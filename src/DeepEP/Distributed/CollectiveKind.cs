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
}
