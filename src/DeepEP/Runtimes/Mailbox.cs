using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepEP.Runtimes;

/// <summary>The per-call pointers one rank publishes in its header for peers to read (<c>CommHeader::mailbox</c>).</summary>
[InlineArray(KernelLimits.MailboxWords)]
internal struct Mailbox
{
    private long _first;

    /// <summary>Packs an unmanaged value (at most 64 bytes) into the words.</summary>
    public static Mailbox Of<T>(T value)
        where T : unmanaged
    {
        var mailbox = new Mailbox();
        MemoryMarshal.Write(MemoryMarshal.AsBytes((Span<long>)mailbox), in value);
        return mailbox;
    }
}
