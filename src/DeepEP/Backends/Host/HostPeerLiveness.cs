namespace DeepEP.Backends.Host;

// Spec §5.6: a rank that has masked us sends us nothing; on a GPU we would time out waiting for it and,
// having a mask buffer, mask it in turn. Every low-latency message therefore starts with whether the
// sender still treats the receiver as live, and a silent peer gets masked here exactly as the timeout would.
// In shrink mode a rank that missed the deadline sent nothing at all (null) and is masked the same way.
internal static class HostPeerLiveness
{
    public const int HeaderBytes = sizeof(int);

    public static void WriteHeader(HostWireWriter writer, bool receiverIsMasked) => writer.WriteInt32(receiverIsMasked ? 0 : 1);

    public static void MaskSilentPeers(byte[]?[] received, bool[] maskedRanks)
    {
        for (int s = 0; s < received.Length; s++)
        {
            if (!maskedRanks[s] && (received[s] is not { } message || new HostWireReader(message, s).ReadInt32() == 0))
            {
                maskedRanks[s] = true;
            }
        }
    }
}
