using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace FfProxy.Core.Caching;

/// <summary>
/// Writes a JSON array body item by item into a pooled buffer, the way the Go proxy's encoder writes it (compact, the
/// writer's relaxed escaping), and records where each item lands so item bodies can be slices of the list. An item
/// can be taken back (<see cref="Discard"/>) when it turns out to be invalid, which a plain <see cref="Utf8JsonWriter"/>
/// over the whole array cannot do.
/// </summary>
internal sealed class ListBodyWriter : IBufferWriter<byte>, IDisposable
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Utf8JsonWriter _writer;
    private byte[] _buffer;
    private int _written;
    private int _itemStart;
    private int _items;

    public ListBodyWriter(int capacity)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 256));
        _buffer[0] = (byte)'[';
        _written = 1;
        _writer = new Utf8JsonWriter(this, WriterOptions);
    }

    /// <summary>Starts an item: returns the JSON writer to write exactly one value with.</summary>
    public Utf8JsonWriter BeginItem()
    {
        _itemStart = _written;
        if (_items > 0)
        {
            Append((byte)',');
        }

        _writer.Reset(this);
        return _writer;
    }

    /// <summary>The item just written, without its separating comma.</summary>
    public ReadOnlySpan<byte> CurrentItem
    {
        get
        {
            _writer.Flush();
            return _buffer.AsSpan(ItemBodyStart, _written - ItemBodyStart);
        }
    }

    /// <summary>Keeps the item; returns its range in the list body.</summary>
    public Range Commit()
    {
        _writer.Flush();
        var start = ItemBodyStart;
        _items++;
        return start.._written;
    }

    /// <summary>Where the current item's JSON starts: after the comma that separates it from the previous one.</summary>
    private int ItemBodyStart => _items > 0 ? _itemStart + 1 : _itemStart;

    /// <summary>Takes back the item being written.</summary>
    public void Discard()
    {
        _writer.Reset(this);
        _written = _itemStart;
    }

    /// <summary>Clears every item (the whole list turned out unreadable).</summary>
    public void Clear()
    {
        _writer.Reset(this);
        _written = 1;
        _items = 0;
    }

    /// <summary>The list body as it goes on the wire, sized exactly: the array and the newline after it.</summary>
    public byte[] ToArray()
    {
        _writer.Flush();
        Append((byte)']');
        Append((byte)'\n');
        var bytes = _buffer.AsSpan(0, _written).ToArray();
        _written -= 2;
        return bytes;
    }

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Dispose()
    {
        _writer.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void Append(byte value)
    {
        Ensure(1);
        _buffer[_written++] = value;
    }

    private void Ensure(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= sizeHint)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + sizeHint));
        _buffer.AsSpan(0, _written).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}
