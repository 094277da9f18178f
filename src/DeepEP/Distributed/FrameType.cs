namespace DeepEP.Distributed;

/// <summary>What a frame between a rank and rank 0's relay carries. Values go over the wire.</summary>
internal enum FrameType : byte
{
    /// <summary>Rank → relay, first frame: protocol, rank, world size, rendezvous timeout.</summary>
    Hello = 1,

    /// <summary>Rank → relay: this rank's part of its next collective.</summary>
    Contribution = 2,

    /// <summary>Relay → rank: the round completed; the payloads this rank receives.</summary>
    Result = 3,

    /// <summary>Relay → rank: the group failed; why.</summary>
    Failure = 4,

    /// <summary>Rank → relay: this rank closed its group and will call no more collectives.</summary>
    Goodbye = 5,
}
