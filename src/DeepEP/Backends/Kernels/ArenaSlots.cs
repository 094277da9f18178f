using DeepEP.Runtimes;

namespace DeepEP.Backends.Kernels;

/// <summary>
/// The receive arena of the one-process-per-GPU model split into <see cref="Count"/> equal slots that peers can address.
/// A dispatch's outputs and a combine input buffer are views of a leased slot, so no row is copied out of (or into)
/// the arena; a slot returns to the pool when every view of it is disposed (or finalised), never while a caller can
/// still read it. Thread-safe: views may be released on the finaliser thread.
/// </summary>
internal sealed class ArenaSlots
{
    /// <summary>Slots per arena (<see cref="ReceiveArenaLayout.Slots"/>).</summary>
    public const int Count = ReceiveArenaLayout.Slots;

    private const long Alignment = 128;
    private readonly nint _local;
    private readonly string?[] _holders = new string?[Count];
    private readonly Lock _lock = new();
    private int _next;

    /// <param name="local">This rank's address of the arena (its copy of the symmetric allocation).</param>
    /// <param name="bytes">The arena's size; each slot gets a third, rounded down to 128 bytes.</param>
    public ArenaSlots(nint local, long bytes)
    {
        _local = local;
        SlotBytes = bytes / Count / Alignment * Alignment;
    }

    /// <summary>Bytes of each slot (a multiple of 128).</summary>
    public long SlotBytes { get; }

    /// <summary>Whether <paramref name="bytes"/> bytes at <paramref name="pointer"/> lie inside this rank's slots (peers can read them).</summary>
    public bool Contains(nint pointer, long bytes) =>
        pointer >= _local && (long)pointer + bytes <= (long)_local + (Count * SlotBytes);

    /// <summary>
    /// Leases a free slot (round robin, so a just-released slot is reused last) for <paramref name="holder"/>, a
    /// description the error of a later lease names; null when every slot is held.
    /// </summary>
    public ArenaSlot? TryLease(string holder)
    {
        lock (_lock)
        {
            for (int i = 0; i < Count; i++)
            {
                int slot = (_next + i) % Count;
                if (_holders[slot] is null)
                {
                    _holders[slot] = holder;
                    _next = (slot + 1) % Count;
                    return new ArenaSlot(this, slot, _local + (nint)(slot * SlotBytes));
                }
            }
            return null;
        }
    }

    /// <summary>Who holds each slot, for the error of a lease that found none free.</summary>
    public string DescribeHolders()
    {
        lock (_lock)
        {
            return string.Join("; ", _holders.Select((holder, slot) => $"slot {slot}: {holder ?? "free"}"));
        }
    }

    /// <summary>Called by <see cref="ArenaSlot"/> once it and every tensor viewing it are disposed.</summary>
    internal void Release(int slot)
    {
        lock (_lock)
        {
            _holders[slot] = null;
        }
    }
}
