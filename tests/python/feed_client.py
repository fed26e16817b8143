#!/usr/bin/env python3
"""A cetx market-data feed client in Python 3, standard library only.

Written from docs/MARKET_DATA.md (and the "Framing" and "Encoding rules" of
docs/PROTOCOL.md) alone, as a subscriber in another language would be, so
that it checks the spec as much as the server: if this module and the server
disagree, one of them, or the spec, is wrong.

    python3 tests/python/feed_client.py --selftest
        encodes every hex example of docs/MARKET_DATA.md and compares the
        bytes with the doc's, decodes them back, tries malformed frames, and
        builds a book from the examples read as one stream.
    python3 tests/python/feed_client.py --check 127.0.0.1:7878 127.0.0.1:7879
            [--orders 3000] [--seed 1]
        against a running `cetx serve` with the embedded demo config and the
        market open: follows CEA2025 at depth 0 and at depth 5 while the two
        demo brokers send a random flow of limit orders and cancels, waits
        for the feed to be quiet, and compares both books (and the day's
        figures, the trades, the brokers' own reports) with a fresh
        snapshot; prints "feed check ok" and exits 0 when all agree.
    python3 tests/python/feed_client.py --close 127.0.0.1:7878 127.0.0.1:7879
        against a fresh demo server whose clock is seconds before the day's
        last close (cetx serve --start-at 2026-11-27T14:59:30+08:00): one
        trade, three resting orders, then the close: Phase, EndOfDay, Band,
        the expired orders' levels gone, and a fresh snapshot that agrees.
        Says so, and fails, when the close comes before the feed shows the
        orders (a server started too near 15:00 for the machine).
    python3 tests/python/feed_client.py --probe 127.0.0.1:7879
        the feed's rules that need no trading: an unknown symbol (410), a
        malformed frame (414), a frame too large (415), a subscription
        renewed with another depth.
    python3 tests/python/feed_client.py --idle 127.0.0.1:7879 [--seconds 17]
        one subscriber that heartbeats and one that stays silent, on an
        instrument nobody trades (CCER): the first must hear the server's
        heartbeats and stay, the second must be closed after 15 s.
    python3 tests/python/feed_client.py --watch 127.0.0.1:7879 [--depth 5]
            [--seconds 60] [SYMBOL ...]
        prints every message, and the book after each burst.

As a module:

    from feed_client import FeedClient
    with FeedClient.connect("127.0.0.1", 7879) as feed:
        feed.subscribe(5, ["CEA2025"])
        feed.wait_ready(["CEA2025"], timeout=5)
        while True:
            for message in feed.poll(1.0):   # applied to feed.books already
                print(message)
            book = feed.book("CEA2025")      # .bids / .asks: [(price, qty, orders)]
"""

import argparse
import collections
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ beside broker_client.py

import broker_client  # noqa: E402  (same directory; the framing and Message are shared)
from broker_client import Message, ProtocolDecodeError, doc_examples, frame  # noqa: E402

# ---------------------------------------------------------------------------
# Numbers (docs/MARKET_DATA.md, "Framing and encoding" and "Connecting").

LENGTH_PREFIX_LEN = 4
MAX_FRAME = 4096
MAX_SYMBOL_LEN = 16
MAX_TEXT_LEN = 128
MAX_SUBSCRIBE_SYMBOLS = 64
# The order view: orders of the best 5 levels per side, at most 200 listed
# per level (the first in time).
ORDER_VIEW_LEVELS = 5
MAX_VIEW_ORDERS = 200
# The server closes a subscriber that sent nothing for 15 s; we send a
# Heartbeat after 5 s of sending nothing, as the broker protocol does.
IDLE_TIMEOUT_S = 15
HEARTBEAT_INTERVAL_S = 5
# The server heartbeats after saying nothing for 5 s.
SERVER_HEARTBEAT_S = 5


class Side:
    BUY = 0   # bids
    SELL = 1  # asks


class Phase:
    CLOSED = 0
    CONTINUOUS = 1
    BREAK = 2
    HALTED = 3


PHASE_NAMES = ["closed", "continuous", "break", "halted"]
SIDE_NAMES = ["buy", "sell"]

# Rejected reasons.
REJECT_UNKNOWN_SYMBOL = 410
REJECT_TOO_MANY_SUBSCRIBERS = 412
REJECT_TOO_SLOW = 408
REJECT_MALFORMED = 414
REJECT_TOO_LARGE = 415

# ---------------------------------------------------------------------------
# Field types. Every integer is fixed width, little-endian.

_INTS = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q", "i64": "<q"}
# enum type -> number of variants (u32 tags)
_ENUMS = {"Side": 2, "Phase": 4}
# string field -> maximum length in bytes
_MAX_LEN = {"symbol": MAX_SYMBOL_LEN, "symbols": MAX_SYMBOL_LEN, "text": MAX_TEXT_LEN}

DAY_FIGURES = [
    ("open_ticks", "i64"), ("high_ticks", "i64"), ("low_ticks", "i64"), ("last_ticks", "i64"),
    ("vwap_ticks", "i64"), ("volume_t", "u64"), ("turnover_fen", "i64"), ("trade_count", "u64"),
]
DayFigures = collections.namedtuple("DayFigures", [n for n, _ in DAY_FIGURES])
NO_TRADES = DayFigures(0, 0, 0, 0, 0, 0, 0, 0)

# Messages: (name, [(field, type), ...]); the tag is the position.
CLIENT_MESSAGES = [
    ("Subscribe", [("depth", "u16"), ("symbols", "[str]")]),
    ("Heartbeat", []),
    ("SubscribeOrders", [("depth", "u16"), ("symbols", "[str]")]),
]

SERVER_MESSAGES = [
    ("Snapshot", [("instrument", "u16"), ("symbol", "str"), ("seq", "u64"), ("phase", "Phase"),
                  ("reference_ticks", "i64"), ("floor_ticks", "i64"), ("ceiling_ticks", "i64"),
                  ("step_ticks", "i64"), ("day", "DayFigures"), ("bid_levels", "u32"),
                  ("ask_levels", "u32")]),
    ("Level", [("instrument", "u16"), ("seq", "u64"), ("side", "Side"), ("price_ticks", "i64"),
               ("quantity_t", "u64"), ("orders", "u32")]),
    ("Trade", [("instrument", "u16"), ("seq", "u64"), ("trade_id", "u64"), ("price_ticks", "i64"),
               ("quantity_t", "u64"), ("aggressor", "Side"), ("time_ns", "i64")]),
    ("Statistics", [("instrument", "u16"), ("seq", "u64"), ("day", "DayFigures")]),
    ("Phase", [("instrument", "u16"), ("seq", "u64"), ("phase", "Phase")]),
    ("Band", [("instrument", "u16"), ("seq", "u64"), ("reference_ticks", "i64"),
              ("floor_ticks", "i64"), ("ceiling_ticks", "i64")]),
    ("EndOfDay", [("instrument", "u16"), ("seq", "u64"), ("trading_day", "u32"),
                  ("close_ticks", "i64"), ("day", "DayFigures"), ("next_floor_ticks", "i64"),
                  ("next_ceiling_ticks", "i64")]),
    ("Rejected", [("reason", "u16"), ("text", "str")]),
    ("Heartbeat", []),
    ("Orders", [("instrument", "u16"), ("seq", "u64"), ("side", "Side"), ("price_ticks", "i64"),
                ("order_count", "u32"), ("orders", "[OrderEntry]")]),
    # Tags 10 and 11 are reserved (no message of this protocol version).
    None, None,
    ("BlockOffer", [("instrument", "u16"), ("seq", "u64"), ("block_id", "u64"), ("side", "Side"),
                    ("price_ticks", "i64"), ("quantity_t", "u64")]),
    ("AuctionAnnounced", [("instrument", "u16"), ("seq", "u64"), ("auction_id", "u64"),
                          ("quantity_t", "u64"), ("floor_ticks", "i64"), ("ceiling_ticks", "i64"),
                          ("start_ns", "i64"), ("end_ns", "i64"), ("pricing", "u8")]),
    ("AuctionResult", [("instrument", "u16"), ("seq", "u64"), ("auction_id", "u64"),
                       ("pricing", "u8"), ("clearing_ticks", "i64"), ("sold_t", "u64"),
                       ("unsold_t", "u64"), ("turnover_fen", "i64")]),
]

# ---------------------------------------------------------------------------
# Encoding.


def _encode_str(out, name, value):
    data = value.encode("utf-8")
    if len(data) > _MAX_LEN[name]:
        raise ValueError(f"{name} is {len(data)} bytes, above {_MAX_LEN[name]}")
    out += struct.pack("<Q", len(data)) + data


def _encode_field(out, name, ftype, value):
    if ftype in _INTS:
        out += struct.pack(_INTS[ftype], value)
    elif ftype in _ENUMS:
        if not 0 <= value < _ENUMS[ftype]:
            raise ValueError(f"{name}: unknown {ftype} tag {value}")
        out += struct.pack("<I", value)
    elif ftype == "str":
        _encode_str(out, name, value)
    elif ftype == "[str]":
        if len(value) > MAX_SUBSCRIBE_SYMBOLS:
            raise ValueError(f"{name}: {len(value)} items, above {MAX_SUBSCRIBE_SYMBOLS}")
        out += struct.pack("<Q", len(value))
        for item in value:
            _encode_str(out, name, item)
    elif ftype == "DayFigures":
        for fname, ftype2 in DAY_FIGURES:
            _encode_field(out, fname, ftype2, getattr(value, fname))
    elif ftype == "[OrderEntry]":
        if len(value) > MAX_VIEW_ORDERS:
            raise ValueError(f"{name}: {len(value)} items, above {MAX_VIEW_ORDERS}")
        out += struct.pack("<Q", len(value))
        for order_id, quantity_t in value:
            out += struct.pack("<QQ", order_id, quantity_t)
    else:
        raise AssertionError(ftype)


def _encode_message(table, message):
    for tag, entry in enumerate(table):
        if entry is None:
            continue
        kind, fields = entry
        if kind == message.kind:
            if set(message.fields) != {n for n, _ in fields}:
                raise ValueError(f"{kind}: fields {sorted(message.fields)}")
            out = bytearray(struct.pack("<I", tag))
            for name, ftype in fields:
                _encode_field(out, name, ftype, message.fields[name])
            return bytes(out)
    raise ValueError(f"unknown message {message.kind}")


def encode_client_payload(message):
    """A client message's payload, without the length prefix."""
    return _encode_message(CLIENT_MESSAGES, message)


def encode_server_payload(message):
    """A server message's payload, without the length prefix."""
    return _encode_message(SERVER_MESSAGES, message)


# ---------------------------------------------------------------------------
# Decoding.

class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if n > len(self.data) - self.pos:
            raise ProtocolDecodeError("Truncated", f"{n} bytes needed at offset {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]


def _decode_str(reader, name):
    length = reader.unpack("<Q")
    data = reader.take(length)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtocolDecodeError("InvalidUtf8", f"{name}: {e}") from None
    if len(data) > _MAX_LEN[name]:
        raise ProtocolDecodeError("FieldTooLong", f"{name} is {len(data)} bytes, above {_MAX_LEN[name]}")
    return text


def _decode_field(reader, name, ftype):
    if ftype in _INTS:
        return reader.unpack(_INTS[ftype])
    if ftype in _ENUMS:
        tag = reader.unpack("<I")
        if tag >= _ENUMS[ftype]:
            raise ProtocolDecodeError("UnknownTag", f"unknown {ftype} tag {tag}")
        return tag
    if ftype == "str":
        return _decode_str(reader, name)
    if ftype == "[str]":
        count = reader.unpack("<Q")
        if count > MAX_SUBSCRIBE_SYMBOLS:
            raise ProtocolDecodeError("FieldTooLong", f"{name}: {count} items, above {MAX_SUBSCRIBE_SYMBOLS}")
        return [_decode_str(reader, name) for _ in range(count)]
    if ftype == "DayFigures":
        return DayFigures(*(_decode_field(reader, n, t) for n, t in DAY_FIGURES))
    if ftype == "[OrderEntry]":
        count = reader.unpack("<Q")
        if count > MAX_VIEW_ORDERS:
            raise ProtocolDecodeError("FieldTooLong", f"{name}: {count} items, above {MAX_VIEW_ORDERS}")
        return [(reader.unpack("<Q"), reader.unpack("<Q")) for _ in range(count)]
    raise AssertionError(ftype)


def _decode_message(table, type_name, payload):
    reader = _Reader(payload)
    tag = reader.unpack("<I")
    if tag >= len(table) or table[tag] is None:
        raise ProtocolDecodeError("UnknownTag", f"unknown {type_name} tag {tag}")
    kind, fields = table[tag]
    values = {name: _decode_field(reader, name, ftype) for name, ftype in fields}
    extra = len(payload) - reader.pos
    if extra:
        raise ProtocolDecodeError("TrailingBytes", f"{extra} bytes after the message")
    return Message(kind, **values)


def decode_client_payload(payload):
    """Decodes one client message payload (no length prefix)."""
    return _decode_message(CLIENT_MESSAGES, "client message", payload)


def decode_server_payload(payload):
    """Decodes one server message payload (no length prefix)."""
    return _decode_message(SERVER_MESSAGES, "server message", payload)


def split_frames(buffer, max_frame=MAX_FRAME):
    """Takes every whole frame off the front of `buffer` (a bytearray, cut
    in place): returns their payloads. Checks each length against
    `max_frame` before waiting for its payload."""
    payloads = []
    pos = 0
    while len(buffer) - pos >= LENGTH_PREFIX_LEN:
        (length,) = struct.unpack_from("<I", buffer, pos)
        if length > max_frame:
            raise ProtocolDecodeError("FrameTooLarge", f"frame of {length} bytes, maximum {max_frame}")
        end = pos + LENGTH_PREFIX_LEN + length
        if len(buffer) < end:
            break
        payloads.append(bytes(buffer[pos + LENGTH_PREFIX_LEN:end]))
        pos = end
    del buffer[:pos]
    return payloads


# ---------------------------------------------------------------------------
# Constructors.

def subscribe(depth, symbols):
    return Message("Subscribe", depth=depth, symbols=list(symbols))


def subscribe_orders(depth, symbols):
    """As subscribe, and the order view: (public order id, open tonnes) of
    the orders of the best 5 levels of each side, in time order."""
    return Message("SubscribeOrders", depth=depth, symbols=list(symbols))


def heartbeat():
    return Message("Heartbeat")


# ---------------------------------------------------------------------------
# The local copy of one instrument's public market.

class Book:
    """One instrument as the feed told it: levels per side, the day's
    figures, phase and band, and the checks on its sequence numbers."""

    def __init__(self, snapshot, depth):
        self.instrument = snapshot.instrument
        self.symbol = snapshot.symbol
        self.depth = depth
        self.seq = snapshot.seq
        self.phase = snapshot.phase
        self.reference_ticks = snapshot.reference_ticks
        self.floor_ticks = snapshot.floor_ticks
        self.ceiling_ticks = snapshot.ceiling_ticks
        self.step_ticks = snapshot.step_ticks
        self.day = snapshot.day
        self.snapshot_day = snapshot.day
        self.snapshot_seq = snapshot.seq
        # price -> (quantity_t, orders)
        self.sides = ({}, {})
        # Levels the snapshot announced that have not come yet.
        self.pending = [snapshot.bid_levels, snapshot.ask_levels]
        self.last_snapshot_level = None   # (side, price) of the last one
        self.gaps = 0
        self.missed = 0
        self.trades = []            # (trade_id, price, qty, aggressor, time_ns)
        self.auctions = {}          # auction id -> its AuctionAnnounced, while open
        self.offers = {}            # block id -> (side, price, tonnes open), open to all
        self.auction_results = []   # AuctionResult messages, in order
        self.awaiting_statistics = False
        # The shapes of what comes from a Trade to its Statistics, e.g.
        # "Trade Level Statistics": shape -> times seen.
        self.trade_shapes = collections.Counter()
        self._shape = []
        self.unknown_removals = 0
        self.end_of_day = None      # the last EndOfDay message
        # The order view (SubscribeOrders): price -> (order_count,
        # [(order_id, quantity_t), ...] in time order), per side.
        self.orders = ({}, {})

    @property
    def ready(self):
        """The snapshot's levels have all come."""
        return self.pending == [0, 0]

    def levels(self, side):
        """[(price_ticks, quantity_t, orders)], best first."""
        items = self.sides[side].items()
        ordered = sorted(items, reverse=(side == Side.BUY))
        return [(price, qty, orders) for price, (qty, orders) in ordered]

    @property
    def bids(self):
        return self.levels(Side.BUY)

    @property
    def asks(self):
        return self.levels(Side.SELL)

    @property
    def band(self):
        return (self.reference_ticks, self.floor_ticks, self.ceiling_ticks)

    def __repr__(self):
        return (f"Book({self.symbol} #{self.instrument} seq {self.seq} "
                f"{PHASE_NAMES[self.phase]} band {self.floor_ticks}..{self.ceiling_ticks} "
                f"bids {self.bids[:3]}.. asks {self.asks[:3]}.. {self.day})")


class FeedClient:
    """One subscriber connection. Not thread-safe. Every message read is
    applied to `books` (instrument id -> Book) before it is returned;
    anything that breaks the doc's rules is appended to `errors`."""

    def __init__(self, sock=None, auto_heartbeat=True):
        self.sock = sock
        self.buffer = bytearray()
        self.books = {}
        self.by_symbol = {}
        self.depth = {}              # symbol -> depth last asked for
        self.errors = []
        self.rejected = []
        self.heartbeats_received = 0
        self.heartbeats_sent = 0
        self.messages = 0
        self.closed = False
        self.auto_heartbeat = auto_heartbeat
        self.last_sent = time.monotonic()
        self.last_received = time.monotonic()
        self._ready = collections.deque()

    @classmethod
    def connect(cls, host, port, timeout=5.0, auto_heartbeat=True):
        return cls(socket.create_connection((host, port), timeout=timeout), auto_heartbeat)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.sock is not None:
            self.sock.close()

    def fileno(self):
        return self.sock.fileno()

    # -- sending

    def send(self, message):
        self.sock.sendall(frame(encode_client_payload(message)))
        self.last_sent = time.monotonic()

    def subscribe(self, depth, symbols):
        for symbol in symbols:
            self.depth[symbol] = depth
        self.send(subscribe(depth, symbols))

    def subscribe_orders(self, depth, symbols):
        for symbol in symbols:
            self.depth[symbol] = depth
        self.send(subscribe_orders(depth, symbols))

    def heartbeat(self):
        self.send(heartbeat())
        self.heartbeats_sent += 1

    def keep_alive(self):
        """Sends a Heartbeat if nothing was sent for HEARTBEAT_INTERVAL_S."""
        if self.auto_heartbeat and not self.closed and \
                time.monotonic() - self.last_sent >= HEARTBEAT_INTERVAL_S:
            self.heartbeat()

    # -- reading

    def poll(self, timeout=0.0):
        """Every message that arrived, waiting up to `timeout` seconds for the
        first; each is applied to the books. Heartbeats as it goes. Raises
        EOFError when the server closed the connection (after returning what
        came before it)."""
        deadline = time.monotonic() + timeout
        while True:
            self.keep_alive()
            if self._ready:
                out = list(self._ready)
                self._ready.clear()
                return out
            if self.closed:
                raise EOFError("the server closed the connection")
            now = time.monotonic()
            if now >= deadline and timeout > 0:
                return []
            wait = max(0.0, deadline - now)
            if self.auto_heartbeat:
                wait = min(wait, max(0.0, self.last_sent + HEARTBEAT_INTERVAL_S - now))
            readable, _, _ = select.select([self.sock], [], [], wait)
            if readable:
                self._receive()
            elif timeout <= 0:
                return []

    def read(self, timeout=10.0):
        """The next message, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self._ready:
                return self._ready.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            got = self.poll(remaining)
            if got:
                self._ready.extend(got[1:])
                return got[0]

    def wait_ready(self, symbols, timeout=10.0):
        """Reads until every symbol's snapshot and its levels came (after
        the first `subscribe`: a book already there counts); returns the
        messages read. Raises TimeoutError, or RuntimeError on a Rejected."""
        deadline = time.monotonic() + timeout
        seen = []
        rejected = len(self.rejected)
        while not all(s in self.by_symbol and self.books[self.by_symbol[s]].ready for s in symbols):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no complete snapshot of {symbols} within {timeout} s")
            seen += self.poll(remaining)
            if len(self.rejected) > rejected:
                raise RuntimeError(f"subscription rejected: {self.rejected[rejected:]}")
        return seen

    def book(self, symbol):
        return self.books[self.by_symbol[symbol]]

    def _receive(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            if self.buffer:
                self.errors.append(f"connection closed {len(self.buffer)} bytes into a frame")
            self.closed = True
            return
        self.last_received = time.monotonic()
        self.buffer += chunk
        self.feed(b"")

    def feed(self, data):
        """Takes raw bytes from the stream (for tests without a socket):
        decodes and applies every whole frame; queues the messages."""
        self.buffer += data
        for payload in split_frames(self.buffer):
            message = decode_server_payload(payload)
            self.apply(message)
            self._ready.append(message)

    # -- the book

    def _error(self, text):
        self.errors.append(text)

    def apply(self, m):
        self.messages += 1
        kind = m.kind
        if kind == "Heartbeat":
            self.heartbeats_received += 1
            return
        if kind == "Rejected":
            self.rejected.append(m)
            return
        if kind == "Snapshot":
            old = self.books.get(m.instrument)
            if old is not None and not old.ready:
                self._error(f"{m.symbol}: a new Snapshot while {old.pending} levels of the last were due")
            depth = self.depth.get(m.symbol, 0)
            if depth and (m.bid_levels > depth or m.ask_levels > depth):
                self._error(f"{m.symbol}: snapshot of {m.bid_levels}/{m.ask_levels} levels at depth {depth}")
            book = Book(m, depth)
            self.books[m.instrument] = book
            self.by_symbol[m.symbol] = m.instrument
            return
        book = self.books.get(m.instrument)
        if book is None:
            self._error(f"{kind} about instrument {m.instrument} before its Snapshot")
            return
        expected = book.seq + 1
        if m.seq > expected:
            book.gaps += 1
            book.missed += m.seq - expected
        elif m.seq < expected:
            self._error(f"{book.symbol}: {kind} seq {m.seq}, expected {expected}")
        book.seq = m.seq
        if not book.ready:
            self._snapshot_level(book, m)
            return
        if book.awaiting_statistics and kind not in ("Trade", "Level", "Orders", "Statistics"):
            self._error(f"{book.symbol}: {kind} seq {m.seq} after a Trade before its Statistics")
        if kind == "Trade" or book.awaiting_statistics:
            if not book._shape or book._shape[-1][0] != kind:
                book._shape.append([kind, 0])
            book._shape[-1][1] += 1
            if kind == "Statistics":
                book.trade_shapes[" ".join(k if n == 1 else f"{k}x{n}" for k, n in book._shape)] += 1
                book._shape = []
        if kind == "Level":
            levels = book.sides[m.side]
            if m.quantity_t == 0:
                if levels.pop(m.price_ticks, None) is None:
                    book.unknown_removals += 1
                if m.orders != 0:
                    self._error(f"{book.symbol}: level {m.price_ticks} gone with {m.orders} orders")
            else:
                if m.orders == 0:
                    self._error(f"{book.symbol}: level {m.price_ticks} of {m.quantity_t} t with 0 orders")
                levels[m.price_ticks] = (m.quantity_t, m.orders)
        elif kind == "Orders":
            view = book.orders[m.side]
            if m.order_count == 0:
                view.pop(m.price_ticks, None)
            else:
                if len(m.orders) != min(m.order_count, MAX_VIEW_ORDERS):
                    self._error(f"{book.symbol}: {len(m.orders)} orders listed of {m.order_count}")
                view[m.price_ticks] = (m.order_count, list(m.orders))
            if len(view) > ORDER_VIEW_LEVELS:
                self._error(f"{book.symbol}: {len(view)} levels in the order view")
        elif kind == "Trade":
            book.trades.append((m.trade_id, m.price_ticks, m.quantity_t, m.aggressor, m.time_ns))
            book.awaiting_statistics = True
        elif kind == "Statistics":
            book.day = m.day
            book.awaiting_statistics = False
        elif kind == "Phase":
            book.phase = m.phase
        elif kind == "Band":
            book.reference_ticks = m.reference_ticks
            book.floor_ticks = m.floor_ticks
            book.ceiling_ticks = m.ceiling_ticks
        elif kind == "BlockOffer":
            if m.quantity_t == 0:
                book.offers.pop(m.block_id, None)
            else:
                book.offers[m.block_id] = (m.side, m.price_ticks, m.quantity_t)
        elif kind == "AuctionAnnounced":
            book.auctions[m.auction_id] = m
        elif kind == "AuctionResult":
            # The outcome ends the auction; its volume is not the day's.
            book.auctions.pop(m.auction_id, None)
            book.auction_results.append(m)
        elif kind == "EndOfDay":
            # The Band that follows brings the next day's band, and the
            # expired orders' levels come as gone. The next day's figures
            # start at 0: no Statistics says so, but a Snapshot taken after
            # the EndOfDay shows them so.
            if m.day != book.day:
                self._error(f"{book.symbol}: EndOfDay figures {m.day}, the last Statistics' {book.day}")
            book.end_of_day = m
            book.day = NO_TRADES
        else:
            self._error(f"unexpected {kind}")

    def _snapshot_level(self, book, m):
        """One of the Level messages a Snapshot announced: bids best first,
        then asks best first."""
        if m.kind != "Level":
            self._error(f"{book.symbol}: {m.kind} while {book.pending} snapshot levels were due")
            return
        side = Side.BUY if book.pending[Side.BUY] else Side.SELL
        if m.side != side:
            self._error(f"{book.symbol}: snapshot level on side {m.side}, expected {side}")
        last = book.last_snapshot_level
        if last is not None and last[0] == m.side and (
                m.price_ticks >= last[1] if m.side == Side.BUY else m.price_ticks <= last[1]):
            self._error(f"{book.symbol}: snapshot levels not best first: {last[1]} then {m.price_ticks}")
        if m.quantity_t == 0 or m.orders == 0:
            self._error(f"{book.symbol}: empty snapshot level {m!r}")
        book.sides[m.side][m.price_ticks] = (m.quantity_t, m.orders)
        book.pending[side] -= 1
        book.last_snapshot_level = (m.side, m.price_ticks)


# ---------------------------------------------------------------------------
# The examples of docs/MARKET_DATA.md, and the self-test against them.

SYMBOL = "CEA2025"

EXAMPLE_DAY = DayFigures(open_ticks=8500, high_ticks=8610, low_ticks=8490, last_ticks=8550,
                         vwap_ticks=8542, volume_t=1200, turnover_fen=10_250_400, trade_count=17)

EXAMPLES = {
    "request.Subscribe": subscribe(5, [SYMBOL]),
    "request.Heartbeat": heartbeat(),
    "feed.Snapshot": Message("Snapshot", instrument=0, symbol=SYMBOL, seq=1, phase=Phase.CONTINUOUS,
                             reference_ticks=8500, floor_ticks=7650, ceiling_ticks=9350,
                             step_ticks=1, day=EXAMPLE_DAY, bid_levels=1, ask_levels=0),
    "feed.Level": Message("Level", instrument=0, seq=2, side=Side.BUY, price_ticks=8540,
                          quantity_t=300, orders=2),
    "feed.Trade": Message("Trade", instrument=0, seq=3, trade_id=18, price_ticks=8540,
                          quantity_t=100, aggressor=Side.SELL, time_ns=1_752_629_400_000_000_000),
    "feed.Statistics": Message("Statistics", instrument=0, seq=4, day=EXAMPLE_DAY),
    "feed.Phase": Message("Phase", instrument=0, seq=5, phase=Phase.BREAK),
    "feed.Band": Message("Band", instrument=0, seq=6, reference_ticks=8542, floor_ticks=7688,
                         ceiling_ticks=9396),
    "feed.EndOfDay": Message("EndOfDay", instrument=0, seq=7, trading_day=3, close_ticks=8542,
                             day=EXAMPLE_DAY, next_floor_ticks=7688, next_ceiling_ticks=9396),
    "feed.Rejected": Message("Rejected", reason=410, text="unknown symbol"),
    "feed.Heartbeat": Message("Heartbeat"),
    "request.SubscribeOrders": subscribe_orders(5, [SYMBOL]),
    "feed.Orders": Message("Orders", instrument=0, seq=8, side=Side.SELL, price_ticks=8560,
                           order_count=2, orders=[(9001, 200), (9044, 50)]),
    "feed.BlockOffer": Message("BlockOffer", instrument=0, seq=7, block_id=5, side=Side.SELL,
                               price_ticks=9000, quantity_t=300000),
    "feed.AuctionAnnounced": Message("AuctionAnnounced", instrument=0, seq=8, auction_id=7,
                                     quantity_t=150000, floor_ticks=8500, ceiling_ticks=9900,
                                     start_ns=1_800_000_000_000_000_000,
                                     end_ns=1_800_000_003_000_000_000, pricing=0),
    "feed.AuctionResult": Message("AuctionResult", instrument=0, seq=9, auction_id=7, pricing=0,
                                  clearing_ticks=9200, sold_t=150000, unsold_t=0,
                                  turnover_fen=9200 * 150000),
}

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "MARKET_DATA.md")


def encode_example(name, value):
    if name.startswith("request."):
        return frame(encode_client_payload(value))
    return frame(encode_server_payload(value))


def decode_example(name, data):
    buffer = bytearray(data)
    payloads = split_frames(buffer)
    assert len(payloads) == 1 and not buffer, name
    if name.startswith("request."):
        return decode_client_payload(payloads[0])
    return decode_server_payload(payloads[0])


def _expect_error(kind, action):
    try:
        action()
    except ProtocolDecodeError as e:
        if e.kind != kind:
            raise AssertionError(f"expected {kind}, got {e.kind}: {e}") from None
        return
    raise AssertionError(f"expected {kind}, got no error")


def selftest(doc_path=DOC):
    with open(doc_path, encoding="utf-8") as f:
        examples = doc_examples(f.read())
    names = ([f"request.{e[0]}" for e in CLIENT_MESSAGES if e is not None]
             + [f"feed.{e[0]}" for e in SERVER_MESSAGES if e is not None])
    assert sorted(examples) == sorted(names), (sorted(examples), sorted(names))
    assert sorted(EXAMPLES) == sorted(names)
    passed = 0
    failures = []
    for name in names:
        expected = examples[name]
        encoded = encode_example(name, EXAMPLES[name])
        if encoded != expected:
            failures.append(f"{name}: encoded {encoded.hex(' ')}\n    doc     {expected.hex(' ')}")
            continue
        decoded = decode_example(name, expected)
        if decoded != EXAMPLES[name]:
            failures.append(f"{name}: decoded {decoded!r}\n    expected {EXAMPLES[name]!r}")
            continue
        passed += 1

    level = encode_server_payload(EXAMPLES["feed.Level"])
    snapshot = encode_server_payload(EXAMPLES["feed.Snapshot"])
    sub = encode_client_payload(EXAMPLES["request.Subscribe"])
    checks = [
        ("FrameTooLarge", lambda: split_frames(bytearray(struct.pack("<I", MAX_FRAME + 1)))),
        ("Truncated", lambda: decode_server_payload(level[:-1])),
        ("Truncated", lambda: decode_server_payload(b"")),
        ("TrailingBytes", lambda: decode_server_payload(level + b"\x00")),
        ("UnknownTag", lambda: decode_server_payload(struct.pack("<I", 10))),
        ("UnknownTag", lambda: decode_server_payload(struct.pack("<I", 15))),
        ("UnknownTag", lambda: decode_client_payload(struct.pack("<I", 3))),
        # Level: side is the u32 after tag (4), instrument (2) and seq (8).
        ("UnknownTag", lambda: decode_server_payload(level[:14] + struct.pack("<I", 2) + level[18:])),
        # Snapshot: phase after tag, instrument, symbol (8 + 7) and seq.
        ("UnknownTag", lambda: decode_server_payload(snapshot[:29] + struct.pack("<I", 4) + snapshot[33:])),
        ("InvalidUtf8", lambda: decode_server_payload(snapshot[:14] + b"\xff" + snapshot[15:])),
        ("FieldTooLong", lambda: decode_server_payload(
            snapshot[:6] + struct.pack("<Q", 17) + b"X" * 17 + snapshot[21:])),
        ("FieldTooLong", lambda: decode_client_payload(
            sub[:6] + struct.pack("<Q", 65) + (struct.pack("<Q", 1) + b"A") * 65)),
        ("Truncated", lambda: decode_client_payload(sub[:6] + struct.pack("<Q", 2) + sub[14:])),
    ]
    for kind, action in checks:
        try:
            _expect_error(kind, action)
            passed += 1
        except AssertionError as e:
            failures.append(f"{kind}: {e}")
    for bad in (lambda: encode_client_payload(subscribe(0, ["S"] * 65)),
                lambda: encode_client_payload(subscribe(0, ["X" * 17])),
                lambda: encode_server_payload(Message("Phase", instrument=0, seq=1, phase=4))):
        try:
            bad()
            failures.append("encoding a value out of range did not fail")
        except ValueError:
            passed += 1

    # The examples read as one stream, a byte at a time, build a book: the
    # snapshot's one bid, then a trade, figures, a break, a new band, the
    # end of the day; seq 1..7 with no gap.
    client = FeedClient(sock=None)
    client.depth[SYMBOL] = 5
    stream = b"".join(examples[f"feed.{n}"] for n in
                      ("Snapshot", "Level", "Trade", "Statistics", "Phase", "Band", "EndOfDay",
                       "Heartbeat"))
    for i in range(len(stream)):
        client.feed(stream[i:i + 1])
    book = client.book(SYMBOL)
    stream_checks = [
        ("messages", client.messages, 8),
        ("errors", client.errors, []),
        ("bids", book.bids, [(8540, 300, 2)]),
        ("asks", book.asks, []),
        ("seq", book.seq, 7),
        ("gaps", book.gaps, 0),
        ("phase", book.phase, Phase.BREAK),
        ("band", book.band, (8542, 7688, 9396)),
        ("the day's figures at its end", book.end_of_day.day, EXAMPLE_DAY),
        ("the next day's figures", book.day, NO_TRADES),
        ("trades", [t[0] for t in book.trades], [18]),
        ("heartbeats", client.heartbeats_received, 1),
    ]
    # A level gone (quantity 0), then a jump in seq: one gap of two.
    client.feed(frame(encode_server_payload(Message("Level", instrument=0, seq=8, side=Side.BUY,
                                                    price_ticks=8540, quantity_t=0, orders=0))))
    client.feed(frame(encode_server_payload(Message("Phase", instrument=0, seq=11,
                                                    phase=Phase.CONTINUOUS))))
    stream_checks += [("bids after removal", book.bids, []), ("gaps", (book.gaps, book.missed), (1, 2)),
                      ("errors", client.errors, [])]
    # A message before any snapshot; snapshot levels out of order.
    bad = FeedClient(sock=None)
    bad.feed(frame(encode_server_payload(Message("Phase", instrument=0, seq=1, phase=1))))
    stream_checks.append(("message before its snapshot", len(bad.errors), 1))
    two_bids = dict(EXAMPLES["feed.Snapshot"].fields, bid_levels=2)
    bad.feed(frame(encode_server_payload(Message("Snapshot", **two_bids))))
    for seq, price in ((2, 8530), (3, 8540)):
        bad.feed(frame(encode_server_payload(Message("Level", instrument=0, seq=seq, side=Side.BUY,
                                                        price_ticks=price, quantity_t=1, orders=1))))
    stream_checks.append(("snapshot levels not best first", len(bad.errors), 2))
    stream_checks.append(("book ready", bad.book(SYMBOL).ready, True))
    for what, got, expected in stream_checks:
        if got == expected:
            passed += 1
        else:
            failures.append(f"stream {what}: {got!r}, expected {expected!r}")

    for failure in failures:
        print(f"FAIL {failure}")
    print(f"feed_client selftest: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


# ---------------------------------------------------------------------------
# The demo brokers, for --check (docs/PROTOCOL.md through broker_client).

class Broker:
    """One demo broker's session, read without blocking, with its orders as
    its own reports tell them."""

    def __init__(self, host, port, broker_id, secret, account):
        self.broker_id = broker_id
        self.account = account
        self.client = broker_client.Client.connect(host, port, timeout=10.0)
        answer = self.client.login(broker_id=broker_id, secret=secret)
        if answer.message.kind != "LoginAccepted":
            raise RuntimeError(f"broker {broker_id}: {answer!r}")
        # The login replays earlier reports (resume 0): not about our orders.
        self.replayed_up_to = answer.message.last_seq
        self.buffer = bytearray()
        self.last_sent = time.monotonic()
        self.owed = 0                  # requests without their answer yet
        self.sent = 0
        self.orders = {}               # client_order_id -> dict
        self.fills = []                # Fill messages
        self.counts = collections.Counter()
        self.errors = []
        # What came after LoginAccepted in the same read.
        self._take(self.client.buffer)
        self.client.buffer = b""

    def fileno(self):
        return self.client.sock.fileno()

    def send_order(self, client_order_id, side, price_ticks, quantity_t):
        self.orders[client_order_id] = {"side": side, "price": price_ticks, "qty": quantity_t,
                                        "leaves": quantity_t, "state": "sent"}
        self.client.new_order(client_order_id, account=self.account, symbol=SYMBOL, side=side,
                              order_type=broker_client.OrderType.LIMIT,
                              time_in_force=broker_client.TimeInForce.DAY,
                              price_ticks=price_ticks, quantity_t=quantity_t)
        self._sent()

    def send_cancel(self, client_order_id):
        self.client.cancel(client_order_id)
        self.counts["cancels sent"] += 1
        self._sent()

    def _sent(self):
        self.owed += 1
        self.sent += 1
        self.last_sent = time.monotonic()

    def keep_alive(self):
        if time.monotonic() - self.last_sent >= HEARTBEAT_INTERVAL_S:
            self.client.heartbeat()
            self.last_sent = time.monotonic()

    def receive(self):
        """Reads what the socket has (call when select says readable)."""
        chunk = self.client.sock.recv(65536)
        if not chunk:
            raise EOFError(f"broker {self.broker_id}: the server closed the connection")
        self._take(chunk)

    def _take(self, data):
        self.buffer += data
        for payload in split_frames(self.buffer, broker_client.MAX_FRAME_AFTER_LOGIN):
            self._report(broker_client.decode_server_payload(payload))

    def _report(self, f):
        m = f.message
        kind = m.kind
        if kind == "Heartbeat":
            return
        if f.seq != broker_client.UNSEQUENCED and f.seq <= self.replayed_up_to:
            return
        order = self.orders.get(getattr(m, "client_order_id", None))
        if kind == "OrderAccepted":
            self.owed -= 1
            self.counts["accepted"] += 1
            if order is None or (m.side, m.price_ticks, m.quantity_t) != (
                    order["side"], order["price"], order["qty"]):
                self.errors.append(f"broker {self.broker_id}: {m!r} is not the order sent")
            else:
                order["state"] = "open"
        elif kind == "OrderRejected":
            self.owed -= 1
            request = ["order", "cancel", "amend"][m.request]
            self.counts[f"{request} rejected {m.reason}"] += 1
            if m.request == broker_client.RequestKind.NEW_ORDER and order is not None:
                order["state"] = "rejected"
        elif kind == "Cancelled":
            if m.cause == broker_client.CancelCause.REQUESTED:
                self.owed -= 1
            self.counts[f"cancelled cause {m.cause}"] += 1
            if order is not None:
                order["state"] = "cancelled"
                order["leaves"] = 0
        elif kind == "Fill":
            self.fills.append(m)
            if order is not None:
                order["leaves"] = m.leaves_t
        elif kind == "Expired":
            self.counts["expired"] += 1
            if order is not None:
                order["state"] = "expired"
                order["leaves"] = 0
        else:
            self.errors.append(f"broker {self.broker_id}: {f!r}")

    def resting(self):
        """(side, price, leaves) of each order still resting, by its reports."""
        return [(o["side"], o["price"], o["leaves"]) for o in self.orders.values()
                if o["state"] == "open" and o["leaves"] > 0]


# ---------------------------------------------------------------------------
# --check: the feed's books against a fresh snapshot and the brokers' reports.

def _addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def _levels_from_orders(resting):
    """Bids and asks, best first, from (side, price, quantity) of orders."""
    sides = ({}, {})
    for side, price, qty in resting:
        total, count = sides[side].get(price, (0, 0))
        sides[side][price] = (total + qty, count + 1)
    return ([(p, q, n) for p, (q, n) in sorted(sides[0].items(), reverse=True)],
            [(p, q, n) for p, (q, n) in sorted(sides[1].items())])


def _round_half_up_div(a, b):
    return (2 * a + b) // (2 * b)


def _day_after(start, trades, step):
    """The day's figures after `trades` (the feed's, in order), from `start`."""
    volume = start.volume_t
    turnover = start.turnover_fen
    count = start.trade_count
    open_ = start.open_ticks
    high, low, last = start.high_ticks, start.low_ticks, start.last_ticks
    for _, price, qty, _, _ in trades:
        if count == 0:
            open_, high, low = price, price, price
        high, low, last = max(high, price), min(low, price), price
        volume += qty
        turnover += price * qty
        count += 1
    if volume == 0:
        return start
    vwap = _round_half_up_div(turnover, volume * step) * step
    return DayFigures(open_, high, low, last, vwap, volume, turnover, count)


def _diff_levels(what, got, expected, out):
    if got == expected:
        return
    out.append(f"{what}: {len(got)} levels, expected {len(expected)}")
    g, e = dict((p, (q, n)) for p, q, n in got), dict((p, (q, n)) for p, q, n in expected)
    shown = 0
    for price in sorted(set(g) | set(e)):
        if g.get(price) != e.get(price):
            out.append(f"    {what} {price}: {g.get(price)} expected {e.get(price)}")
            shown += 1
            if shown == 10:
                out.append("    ...")
                break
    if [p for p, _, _ in got] != [p for p, _, _ in expected] and shown == 0:
        out.append(f"    order differs: {got[:5]} vs {expected[:5]}")


def check(broker_addr, feed_addr, **kwargs):
    """Returns 0 when the feed agrees with itself and the brokers."""
    try:
        return _check(broker_addr, feed_addr, **kwargs)
    except (OSError, EOFError, TimeoutError, RuntimeError, ProtocolDecodeError) as e:
        print(f"DIFF {type(e).__name__}: {e}")
        print("feed check FAILED")
        return 1


def _check(broker_addr, feed_addr, orders=3000, seed=None, cancel_share=0.1, window=200,
           quiet_s=0.5, timeout_s=120.0):
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    started = time.monotonic()
    deadline = started + timeout_s
    bhost, bport = _addr(broker_addr)
    fhost, fport = _addr(feed_addr)
    print(f"feed check: seed {seed}, {orders} orders on {SYMBOL}, brokers {broker_addr}, feed {feed_addr}")

    full = FeedClient.connect(fhost, fport)
    top5 = FeedClient.connect(fhost, fport)
    full.subscribe(0, [SYMBOL])
    top5.subscribe(5, [SYMBOL])
    full.wait_ready([SYMBOL])
    top5.wait_ready([SYMBOL])
    start = full.book(SYMBOL)
    start_day = start.day
    start_empty = not start.bids and not start.asks
    if start.phase != Phase.CONTINUOUS:
        print(f"the market is {PHASE_NAMES[start.phase]}, not continuous: start cetx serve with "
              "--open-market-now, in a trading session")
        return 1
    low = max(8400, start.floor_ticks)
    high = min(8600, start.ceiling_ticks)

    brokers = [Broker(bhost, bport, 1, "demo-secret-1", 1001),
               Broker(bhost, bport, 2, "demo-secret-2", 2001)]
    feeds = [full, top5]
    everything = feeds + brokers
    last_feed = [time.monotonic()]

    widest5 = [0]

    def pump(wait):
        readable, _, _ = select.select(everything, [], [], wait)
        for r in readable:
            if isinstance(r, FeedClient):
                if any(m.kind != "Heartbeat" for m in r.poll(0)):
                    last_feed[0] = time.monotonic()
            else:
                r.receive()
        b5 = top5.book(SYMBOL)
        widest5[0] = max(widest5[0], len(b5.sides[0]), len(b5.sides[1]))
        for b in brokers:
            b.keep_alive()
        for f in feeds:
            f.keep_alive()

    # Client order ids are unique per broker per day: take them from the
    # clock, so that the check can be run again on the same market.
    next_id = time.time_ns() // 1000
    sent_orders = 0
    flow_start = time.monotonic()
    while sent_orders < orders:
        if time.monotonic() > deadline:
            print(f"timed out after {sent_orders} orders")
            return 1
        broker = rng.choice(brokers)
        # Stay under the demo throttle (burst 2000, 1000 a second) and keep
        # at most `window` requests unanswered per broker. (The requests
        # depend on the seed alone; how the engine batches them does not.)
        while broker.owed >= window or broker.sent >= 1500 + 900 * (time.monotonic() - flow_start):
            if time.monotonic() > deadline:
                print(f"timed out after {sent_orders} orders")
                return 1
            pump(0.005)
        if broker.orders and rng.random() < cancel_share:
            target = rng.choice(list(broker.orders))
            broker.send_cancel(target)
        else:
            next_id += 1
            broker.send_order(next_id, rng.choice((Side.BUY, Side.SELL)), rng.randint(low, high),
                              rng.randint(1, 20))
            sent_orders += 1
        pump(0)

    # Every request answered, then nothing on the feed for `quiet_s`.
    while any(b.owed for b in brokers) or time.monotonic() - last_feed[0] < quiet_s:
        if time.monotonic() > deadline:
            print(f"timed out waiting: {[b.owed for b in brokers]} answers owed")
            return 1
        pump(0.05)
    flow_s = time.monotonic() - flow_start

    fresh = FeedClient.connect(fhost, fport)
    fresh.subscribe(0, [SYMBOL])
    fresh.wait_ready([SYMBOL])
    snap = fresh.book(SYMBOL)
    # Nothing may have moved meanwhile.
    pump(0.2)
    for b in brokers:
        b.keep_alive()

    problems = []
    for name, f in (("depth 0", full), ("depth 5", top5), ("fresh", fresh)):
        problems += [f"{name}: {e}" for e in f.errors]
        if f.rejected:
            problems.append(f"{name}: rejected {f.rejected}")
    for b in brokers:
        problems += b.errors
    book0, book5 = full.book(SYMBOL), top5.book(SYMBOL)
    if time.monotonic() - last_feed[0] < 0.2:
        problems.append("the feed moved after it was quiet")
    _diff_levels("depth 0 bids", book0.bids, snap.bids, problems)
    _diff_levels("depth 0 asks", book0.asks, snap.asks, problems)
    _diff_levels("depth 5 bids", book5.bids, snap.bids[:5], problems)
    _diff_levels("depth 5 asks", book5.asks, snap.asks[:5], problems)
    for name, book in (("depth 0", book0), ("depth 5", book5)):
        if book.day != snap.day:
            problems.append(f"{name} day {book.day}\n    fresh   {snap.day}")
        if (book.instrument, book.phase, book.band, book.step_ticks) != \
                (snap.instrument, snap.phase, snap.band, snap.step_ticks):
            problems.append(f"{name}: instrument/phase/band/step {book!r} vs fresh {snap!r}")
        if book.gaps:
            problems.append(f"{name}: {book.gaps} seq gaps, {book.missed} messages missed")
        if book.awaiting_statistics:
            problems.append(f"{name}: the last Trade had no Statistics after it")
    if book0.trades != book5.trades:
        problems.append(f"depth 0 and depth 5 saw different trades: {len(book0.trades)} vs {len(book5.trades)}")

    messages = (full.messages, top5.messages)
    # Subscribe again at depth 3: a fresh snapshot of the top 3 levels.
    errors_before = len(full.errors)
    full.subscribe(3, [SYMBOL])
    renew_deadline = time.monotonic() + 10.0
    while full.book(SYMBOL) is book0 or not full.book(SYMBOL).ready:
        if time.monotonic() > renew_deadline:
            raise TimeoutError("no snapshot after subscribing again")
        full.poll(renew_deadline - time.monotonic())
    renewed = full.book(SYMBOL)
    _diff_levels("renewed at depth 3: bids", renewed.bids, snap.bids[:3], problems)
    _diff_levels("renewed at depth 3: asks", renewed.asks, snap.asks[:3], problems)
    problems += [f"depth 0 renewed: {e}" for e in full.errors[errors_before:]]

    # The trades: ids without gaps, the day's figures they add up to, and
    # the brokers' fills.
    trades = book0.trades
    ids = [t[0] for t in trades]
    if ids and ids != list(range(ids[0], ids[0] + len(ids))):
        problems.append(f"trade ids not consecutive: {ids[:10]}...")
    computed = _day_after(start_day, trades, snap.step_ticks)
    if computed != snap.day:
        problems.append(f"day figures from the trades {computed}\n    fresh snapshot      {snap.day}")
    fills = collections.defaultdict(list)
    for b in brokers:
        for fill in b.fills:
            fills[fill.trade_id].append((b.broker_id, fill))
    if sorted(fills) != sorted(ids):
        problems.append(f"{len(ids)} trades on the feed, {len(fills)} in the brokers' fills")
    time_mismatch = 0
    for trade_id, price, qty, aggressor, time_ns in trades:
        pair = fills.get(trade_id, [])
        takers = [f for _, f in pair if f.aggressor]
        if len(pair) != 2 or len(takers) != 1 or {b for b, _ in pair} != {1, 2}:
            problems.append(f"trade {trade_id}: fills {pair}")
            continue
        taker = takers[0]
        if any((f.price_ticks, f.quantity_t) != (price, qty) for _, f in pair) or taker.side != aggressor:
            problems.append(f"trade {trade_id} ({price}, {qty}, aggressor {aggressor}) vs fills {pair}")
        if any(f.time_ns != time_ns for _, f in pair):
            time_mismatch += 1
    if time_mismatch:
        problems.append(f"{time_mismatch} trades whose time_ns differs from their fills'")

    # The book the brokers' own reports leave.
    expected_bids, expected_asks = _levels_from_orders(
        [r for b in brokers for r in b.resting()])
    if not start_empty:
        print("note: the book was not empty at the start; the brokers' reports explain only their own orders")
    else:
        _diff_levels("brokers' resting orders vs snapshot bids", snap.bids, expected_bids, problems)
        _diff_levels("brokers' resting orders vs snapshot asks", snap.asks, expected_asks, problems)

    counts = collections.Counter()
    for b in brokers:
        counts.update(b.counts)
    cancels = counts.pop("cancels sent", 0)
    summary = (f"{orders} orders, {cancels} cancels in {flow_s:.1f} s: "
               + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
               + f"; {len(trades)} trades (ids {ids[0] if ids else '-'}..{ids[-1] if ids else '-'}), "
               f"{snap.day.volume_t - start_day.volume_t} t; day {snap.day.trade_count} trades, "
               f"vwap {snap.day.vwap_ticks}; book {len(snap.bids)} bid / {len(snap.asks)} ask levels; "
               f"feed messages {messages[0]} at depth 0, {messages[1]} at depth 5; "
               f"seq {book0.seq}/{book5.seq}, gaps {book0.gaps}/{book5.gaps}; "
               f"removals of unseen levels {book0.unknown_removals}/{book5.unknown_removals}; "
               f"depth 5 book at most {widest5[0]} levels a side between reads; "
               f"instrument id {snap.instrument}; subscribed again at depth 3: snapshot seq "
               f"{renewed.snapshot_seq} after seq {book0.seq}")
    shapes = book0.trade_shapes.most_common(int(os.environ.get("FEED_SHAPES", "4")))
    print("from a Trade to its Statistics (times seen): "
          + "; ".join(f"{shape} ({n})" for shape, n in shapes))
    for c in everything + [fresh]:
        try:
            (c.client if isinstance(c, Broker) else c).close()
        except OSError:
            pass
    if problems:
        for p in problems:
            print(f"DIFF {p}")
        print(summary)
        print("feed check FAILED")
        return 1
    print(summary + ": feed check ok")
    return 0


# ---------------------------------------------------------------------------
# --close: the end of the trading day, on a server whose clock reaches the
# day's last close within seconds (cetx serve --start-at ...T14:59:30+08:00).

def close_check(broker_addr, feed_addr, timeout_s=90.0):
    try:
        return _close_check(broker_addr, feed_addr, timeout_s)
    except (OSError, EOFError, TimeoutError, RuntimeError, ProtocolDecodeError) as e:
        print(f"DIFF {type(e).__name__}: {e}")
        print("feed close FAILED")
        return 1


def _close_check(broker_addr, feed_addr, timeout_s):
    deadline = time.monotonic() + timeout_s
    bhost, bport = _addr(broker_addr)
    fhost, fport = _addr(feed_addr)
    feed = FeedClient.connect(fhost, fport)
    feed.subscribe(0, [SYMBOL])
    feed.wait_ready([SYMBOL])
    book = feed.book(SYMBOL)
    if book.phase != Phase.CONTINUOUS or book.bids or book.asks or book.day != NO_TRADES:
        print(f"the check needs an empty {SYMBOL} in continuous trading: {book!r}")
        return 1
    brokers = [Broker(bhost, bport, 1, "demo-secret-1", 1001),
               Broker(bhost, bport, 2, "demo-secret-2", 2001)]
    seller, buyer = brokers
    next_id = time.time_ns() // 1000
    # One trade of 4 t at 85.00; three orders left resting.
    for broker, side, price, qty in ((seller, Side.SELL, 8500, 10), (seller, Side.SELL, 8600, 5),
                                     (buyer, Side.BUY, 8500, 4), (buyer, Side.BUY, 8400, 7)):
        next_id += 1
        broker.send_order(next_id, side, price, qty)
    after_eod = []
    last_feed = time.monotonic()
    day_before = None
    resting_before = None
    closed_too_soon = None
    while True:
        if time.monotonic() > deadline:
            print(f"no end of day within {timeout_s} s: {book!r}")
            return 1
        readable, _, _ = select.select([feed] + brokers, [], [], 0.1)
        for r in readable:
            if r is feed:
                for m in feed.poll(0):
                    last_feed = time.monotonic()
                    if m.kind == "EndOfDay":
                        day_before = m.day
                    if m.kind in ("Phase", "EndOfDay") and resting_before is None \
                            and closed_too_soon is None:
                        closed_too_soon = (f"{m.kind} came before the feed showed the orders "
                                           f"answered: feed {(book.bids, book.asks)}, "
                                           f"reports {_resting_levels(brokers)}")
                    # From the phase change on: what the close looks like.
                    if (after_eod or m.kind in ("Phase", "EndOfDay")) and m.kind != "Heartbeat":
                        after_eod.append(m)
            else:
                r.receive()
        for b in brokers:
            b.keep_alive()
        # The feed may trail the brokers' reports by its flush interval
        # (MARKET_DATA.md, "Pace"): look once every order is answered and
        # the feed shows what the reports leave resting (its levels are
        # checked against the expected ones below).
        if (resting_before is None and not any(b.owed for b in brokers)
                and (book.bids, book.asks) == _resting_levels(brokers)):
            resting_before = sum(len(b.resting()) for b in brokers)
            levels_before = (book.bids, book.asks)
        if book.end_of_day is not None and time.monotonic() - last_feed > 0.5:
            break
    if closed_too_soon is not None:
        print(f"the close came too soon for the check (start the server earlier): {closed_too_soon}")
        print("feed close FAILED")
        return 1
    fresh = FeedClient.connect(fhost, fport)
    fresh.subscribe(0, [SYMBOL])
    fresh.wait_ready([SYMBOL])
    snap = fresh.book(SYMBOL)
    for b in brokers:
        b.keep_alive()
    # What the brokers are still owed (the expiries) arrives: read each
    # until it has been quiet for 0.2 s.
    for b in brokers:
        while select.select([b], [], [], 0.2)[0]:
            b.receive()

    eod = book.end_of_day
    problems = [f"feed: {e}" for e in feed.errors + fresh.errors]
    for b in brokers:
        problems += b.errors
    expired = sum(b.counts["expired"] for b in brokers)
    bands = [m for m in after_eod if m.kind == "Band"]
    checks = [
        ("phase", PHASE_NAMES[book.phase], "closed"),
        ("levels before the close", levels_before,
         ([(8400, 7, 1)], [(8500, 6, 1), (8600, 5, 1)])),
        ("EndOfDay day figures", day_before, DayFigures(8500, 8500, 8500, 8500, 8500, 4, 34_000, 1)),
        ("EndOfDay close (the day's VWAP)", eod.close_ticks, 8500),
        ("one Band at the close", len(bands), 1),
        ("its band", bands[0].fields if bands else None,
         dict(instrument=eod.instrument, seq=bands[0].seq if bands else 0,
              reference_ticks=eod.close_ticks, floor_ticks=eod.next_floor_ticks,
              ceiling_ticks=eod.next_ceiling_ticks)),
        ("levels after the close", (book.bids, book.asks), ([], [])),
        ("orders expired (Expired reports)", expired, resting_before),
        ("fresh snapshot: levels", (snap.bids, snap.asks), (book.bids, book.asks)),
        ("fresh snapshot: phase, band, step", (snap.phase, snap.band, snap.step_ticks),
         (book.phase, book.band, book.step_ticks)),
        ("fresh snapshot: day figures", snap.day, book.day),
        ("gaps", book.gaps, 0),
    ]
    for what, got, expected in checks:
        if got != expected:
            problems.append(f"{what}: {got!r}, expected {expected!r}")
    order = " ".join(m.kind for m in after_eod)
    print(f"end of day {eod.trading_day}: close {eod.close_ticks}, next band "
          f"{eod.next_floor_ticks}..{eod.next_ceiling_ticks}; the close on the feed: {order}; "
          f"{expired} orders expired; fresh snapshot day figures {tuple(snap.day)}")
    for c in [feed, fresh] + [b.client for b in brokers]:
        c.close()
    if problems:
        for p in problems:
            print(f"DIFF {p}")
        print("feed close FAILED")
        return 1
    print("feed close ok")
    return 0


def _resting_levels(brokers):
    """(bids, asks) as the feed's book gives them, of the orders the
    brokers' reports leave resting."""
    sides = {Side.BUY: {}, Side.SELL: {}}
    for b in brokers:
        for side, price, leaves in b.resting():
            qty, orders = sides[side].get(price, (0, 0))
            sides[side][price] = (qty + leaves, orders + 1)
    return tuple([(price, qty, orders) for price, (qty, orders)
                  in sorted(sides[side].items(), reverse=(side == Side.BUY))]
                 for side in (Side.BUY, Side.SELL))


# ---------------------------------------------------------------------------
# --probe: the rules that need no trading.

def _read_until(client, predicate, timeout):
    """Messages until one matches (returned) or the connection closes (None,
    client.closed set) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            m = client.read(remaining)
        except EOFError:
            return None
        if m is None:
            return None
        if predicate(m):
            return m


def _closed_within(client, timeout):
    """True when the server closes within `timeout` (reading what it sends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.poll(max(0.0, deadline - time.monotonic()))
        except EOFError:
            return True
    return False


def probe(feed_addr):
    host, port = _addr(feed_addr)
    results = []

    def expect(what, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")

    # An unknown symbol: Rejected 410, nothing subscribed, the connection stays.
    with FeedClient.connect(host, port) as c:
        c.subscribe(0, [SYMBOL, "NOSUCH"])
        m = _read_until(c, lambda m: True, 3.0)
        expect("Subscribe naming an unknown symbol is answered Rejected 410",
               m is not None and m.kind == "Rejected" and m.reason == REJECT_UNKNOWN_SYMBOL, repr(m))
        more = _read_until(c, lambda m: m.kind != "Heartbeat", 0.5)
        expect("... and nothing is subscribed", more is None and not c.closed, repr(more))
        c.subscribe(5, [SYMBOL])
        try:
            c.wait_ready([SYMBOL], 3.0)
            expect("... and the connection stays: a later Subscribe gets its snapshot", True)
        except (TimeoutError, EOFError, RuntimeError) as e:
            expect("... and the connection stays: a later Subscribe gets its snapshot", False, repr(e))
        # Subscribe again with another depth: a fresh snapshot.
        if not c.closed:
            first = c.book(SYMBOL)
            c.subscribe(0, [SYMBOL])
            snap = _read_until(c, lambda m: m.kind == "Snapshot", 3.0)
            expect("Subscribe again: a fresh Snapshot", snap is not None, repr(snap))
            if snap is not None:
                print(f"     note: the first snapshot had seq {first.snapshot_seq}, the renewed one "
                      f"seq {snap.seq} (the last message before it had seq {first.seq})")
            expect("... no rule broken", not c.errors, repr(c.errors))

    # Malformed frames: Rejected 414 / 415, then closed.
    for what, data, reason in (
            ("a frame with an unknown tag", frame(struct.pack("<I", 9)), REJECT_MALFORMED),
            ("a frame of length 0", frame(b""), REJECT_MALFORMED),
            ("a frame with trailing bytes", frame(encode_client_payload(heartbeat()) + b"\x00"),
             REJECT_MALFORMED),
            ("a Subscribe of 65 symbols",
             frame(struct.pack("<IHQ", 0, 0, 65) + (struct.pack("<Q", 7) + SYMBOL.encode()) * 65),
             REJECT_MALFORMED),
            # 4,096 bytes of payload are within the limit: not a valid
            # message, so 414; 4,097 are above it, refused before reading.
            ("a frame of 4,096 bytes that is no message",
             frame(struct.pack("<IHQ", 0, 0, 0) + bytes(MAX_FRAME - 14)), REJECT_MALFORMED),
            ("a frame above 4,096 bytes", struct.pack("<I", MAX_FRAME + 1), REJECT_TOO_LARGE)):
        with FeedClient.connect(host, port) as c:
            c.sock.sendall(data)
            m = _read_until(c, lambda m: m.kind != "Heartbeat", 3.0)
            expect(f"{what}: Rejected {reason}", m is not None and m.kind == "Rejected"
                   and m.reason == reason, repr(m))
            expect("... then closed", _closed_within(c, 3.0))
    failed = results.count(False)
    print(f"feed_client probe: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


# ---------------------------------------------------------------------------
# --idle: heartbeats both ways and the 15 s rule.

def idle(feed_addr, seconds=17.0, symbol="CCER"):
    host, port = _addr(feed_addr)
    alive = FeedClient.connect(host, port)
    silent = FeedClient.connect(host, port, auto_heartbeat=False)
    ok = True
    with alive, silent:
        alive.subscribe(0, [symbol])
        alive.wait_ready([symbol])
        # The server counts the silent one's 15 s from when it hears its
        # Subscribe, never before this: its close is no sooner than 15 s
        # after t0, however long the snapshot takes to come back.
        t0 = time.monotonic()
        silent.subscribe(0, [symbol])
        silent.wait_ready([symbol])
        silent_closed_at = None
        silent_last = []
        # At least `seconds`, and until the silent one is closed or clearly
        # will not be.
        while time.monotonic() - t0 < seconds or (
                silent_closed_at is None and time.monotonic() - t0 < IDLE_TIMEOUT_S + 4):
            readable, _, _ = select.select([alive, silent] if silent_closed_at is None else [alive],
                                           [], [], 0.25)
            alive.poll(0)
            if silent_closed_at is None and silent in readable:
                try:
                    silent_last += silent.poll(0)
                except EOFError:
                    silent_closed_at = time.monotonic() - t0
        alive_ok = not alive.closed
        quiet_s = time.monotonic() - t0
        print(f"heartbeating subscriber: {alive.heartbeats_sent} sent, {alive.heartbeats_received} "
              f"received in {quiet_s:.1f} s, {'still connected' if alive_ok else 'CLOSED'}")
        print(f"silent subscriber: {silent.heartbeats_received} heartbeats received, "
              + (f"closed after {silent_closed_at:.1f} s" if silent_closed_at is not None
                 else "NOT closed")
              + (f", its last messages {[m for m in silent_last if m.kind != 'Heartbeat']}"
                 if any(m.kind != "Heartbeat" for m in silent_last) else ""))
        expected_heartbeats = int(seconds // SERVER_HEARTBEAT_S) - 1
        if not alive_ok or alive.heartbeats_received < expected_heartbeats or alive.errors:
            ok = False
        if silent_closed_at is None or not IDLE_TIMEOUT_S - 0.5 <= silent_closed_at <= IDLE_TIMEOUT_S + 3.5:
            ok = False
    print("feed idle ok" if ok else "feed idle FAILED")
    return 0 if ok else 1


# ---------------------------------------------------------------------------
# --watch: print the feed.

def watch(feed_addr, depth, symbols, seconds):
    host, port = _addr(feed_addr)
    with FeedClient.connect(host, port) as c:
        c.subscribe(depth, symbols)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                got = c.poll(min(1.0, deadline - time.monotonic()))
            except EOFError:
                print("closed by the server")
                return 1
            for m in got:
                print(m)
            if got:
                for book in c.books.values():
                    print(f"  {book!r}")
        for e in c.errors:
            print(f"error: {e}")
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--selftest", action="store_true", help="check against docs/MARKET_DATA.md")
    parser.add_argument("--doc", default=DOC, help="path of MARKET_DATA.md")
    parser.add_argument("--check", nargs=2, metavar=("BROKER_ADDR", "FEED_ADDR"),
                        help="trade on a running demo server and check the feed's books")
    parser.add_argument("--orders", type=int, default=3000, help="orders for --check")
    parser.add_argument("--seed", type=int, help="random seed for --check")
    parser.add_argument("--close", nargs=2, metavar=("BROKER_ADDR", "FEED_ADDR"),
                        help="the end of the trading day, on a server started seconds before 15:00")
    parser.add_argument("--probe", metavar="FEED_ADDR", help="the feed's rules that need no trading")
    parser.add_argument("--idle", metavar="FEED_ADDR", help="heartbeats and the 15 s rule")
    parser.add_argument("--seconds", type=float, help="how long --idle or --watch lasts")
    parser.add_argument("--watch", metavar="FEED_ADDR", help="print the feed")
    parser.add_argument("--depth", type=int, default=5, help="depth for --watch")
    parser.add_argument("symbols", nargs="*", default=[SYMBOL], help="symbols for --watch")
    args = parser.parse_args(argv)
    if args.selftest:
        return selftest(args.doc)
    if args.check:
        return check(args.check[0], args.check[1], orders=args.orders, seed=args.seed)
    if args.close:
        return close_check(args.close[0], args.close[1])
    if args.probe:
        return probe(args.probe)
    if args.idle:
        return idle(args.idle, seconds=args.seconds or 17.0)
    if args.watch:
        return watch(args.watch, args.depth, args.symbols, args.seconds or 60.0)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
