namespace DeepEP.Distributed;

/// <summary>One point-to-point transfer of an NCCL group: <see cref="Bytes"/> bytes to or from <see cref="Peer"/>.</summary>
internal readonly record struct NcclTransfer(bool IsSend, int Peer, nint Buffer, long Bytes)
{
    public static NcclTransfer Send(int peer, nint buffer, long bytes) => new(true, peer, buffer, bytes);

    public static NcclTransfer Receive(int peer, nint buffer, long bytes) => new(false, peer, buffer, bytes);
}
