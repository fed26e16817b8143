#!/usr/bin/env python3
"""A cetx broker client in Python 3, standard library only.

Written from docs/PROTOCOL.md alone, as a broker in another language would
be, so that it checks the spec as much as the server: if this module and the
server disagree, one of them, or the spec, is wrong.

    python3 tests/python/broker_client.py --selftest
        encodes every example of docs/PROTOCOL.md and compares the bytes with
        the hex shown there, decodes them back, and tries malformed frames.
    python3 tests/python/broker_client.py --examples
        prints the examples as annotated hex blocks, for the doc.
    python3 tests/python/broker_client.py --demo 127.0.0.1:7878
        against a running server with the embedded demo config: demo
        broker 1 sells 50 t of CEA2025 at 90.00, demo broker 2 buys them,
        and both read their fills; exits 0 when both were filled.
    python3 tests/python/broker_client.py --block-demo 127.0.0.1:7878
        demo broker 1 posts a block offer of 100,000 t of CEA2025 at 90.00
        directed at account 2001, demo broker 2 accepts it, and both read
        the deal (the server's clock must be in CEA block hours).
    python3 tests/python/broker_client.py --demo 127.0.0.1:7878 \
            --tls-ca ca.pem [--tls-server-name localhost]
        the same over TLS (a server with [server.tls]), trusting only the
        CA in ca.pem and checking the server's certificate against the
        name given (default: the host of --demo).

As a module:

    from broker_client import Client, Side, OrderType, TimeInForce
    with Client.connect("127.0.0.1", 9400) as c:   # tls_ca="ca.pem" for TLS
        accepted = c.login(broker_id=7, secret="s3cret")
        c.new_order(1001, account=42, symbol="CEA2025", side=Side.BUY,
                    order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
                    price_ticks=97_50, quantity_t=1000)
        frame = c.read()          # ServerFrame(seq=..., message=Message(...))
"""

import argparse
import os
import re
import socket
import ssl
import struct
import sys

# ---------------------------------------------------------------------------
# Protocol numbers (docs/PROTOCOL.md, "Numbers").

PROTOCOL_VERSION = 1
LENGTH_PREFIX_LEN = 4
MAX_FRAME_BEFORE_LOGIN = 256
MAX_FRAME_AFTER_LOGIN = 4096
MAX_SECRET_LEN = 64
MAX_SYMBOL_LEN = 16
MAX_TEXT_LEN = 128
HEARTBEAT_INTERVAL_S = 5
IDLE_TIMEOUT_S = 15
UNSEQUENCED = 0


class Side:
    BUY = 0
    SELL = 1


class OrderType:
    LIMIT = 0
    MARKET = 1


class TimeInForce:
    DAY = 0
    IOC = 1
    FOK = 2


class RequestKind:
    NEW_ORDER = 0
    CANCEL = 1
    AMEND = 2
    TAKE = 3


class CancelCause:
    REQUESTED = 0
    UNFILLED = 1
    FOK_KILLED = 2
    BOOK_FULL = 3
    SELF_TRADE = 4
    EXPIRED = 5
    SUSPENDED = 20
    REFUSED = 22
    AUCTION_UNFILLED = 23


# ---------------------------------------------------------------------------
# Field types. Every integer is fixed width, little-endian. Small enums are
# u32 tags with a known number of variants.

_INTS = {
    "u8": "<B",
    "u16": "<H",
    "u32": "<I",
    "u64": "<Q",
    "i64": "<q",
}

# enum type -> its tags
_ENUMS = {"Side": {0, 1}, "OrderType": {0, 1}, "TimeInForce": {0, 1, 2},
          "RequestKind": {0, 1, 2, 3}}

# field name -> maximum length in bytes, for strings
_MAX_LEN = {"secret": MAX_SECRET_LEN, "symbol": MAX_SYMBOL_LEN, "text": MAX_TEXT_LEN}

# Messages: (tag, name, [(field, type), ...]). The tag is the position.
CLIENT_MESSAGES = [
    ("Login", [("protocol_version", "u16"), ("broker_id", "u32"),
               ("secret", "str"), ("resume_from_seq", "u64")]),
    ("NewOrder", [("client_order_id", "u64"), ("account", "u32"), ("symbol", "str"),
                  ("side", "Side"), ("order_type", "OrderType"),
                  ("time_in_force", "TimeInForce"), ("price_ticks", "i64"),
                  ("quantity_t", "u64")]),
    ("Cancel", [("client_order_id", "u64")]),
    ("Amend", [("client_order_id", "u64"), ("price_ticks", "i64"), ("quantity_t", "u64")]),
    ("Heartbeat", []),
    ("Logout", []),
    ("Take", [("client_order_id", "u64"), ("account", "u32"), ("symbol", "str"),
              ("order_id", "u64"), ("side", "Side"), ("quantity_t", "u64")]),
    # Tag 7 is reserved (no message of this protocol version).
    (None, []),
    ("PostBlock", [("client_order_id", "u64"), ("account", "u32"), ("symbol", "str"),
                   ("side", "Side"), ("price_ticks", "i64"), ("quantity_t", "u64"),
                   ("counterparty", "u32")]),
    ("AcceptBlock", [("client_order_id", "u64"), ("account", "u32"), ("block_id", "u64"),
                     ("quantity_t", "u64")]),
    ("CancelBlock", [("client_order_id", "u64"), ("account", "u32"), ("block_id", "u64")]),
    # Tag 11 is reserved (no message of this protocol version).
    (None, []),
    ("Bid", [("client_order_id", "u64"), ("auction_id", "u64"), ("account", "u32"),
             ("price_ticks", "i64"), ("quantity_t", "u64")]),
    ("CancelBid", [("client_order_id", "u64")]),
    ("AmendBid", [("client_order_id", "u64"), ("price_ticks", "i64"), ("quantity_t", "u64")]),
]

SERVER_MESSAGES = [
    ("LoginAccepted", [("trading_day", "u32"), ("last_seq", "u64")]),
    ("LoginRejected", [("reason", "u16"), ("text", "str")]),
    ("OrderAccepted", [("client_order_id", "u64"), ("order_id", "u64"), ("symbol", "str"),
                       ("side", "Side"), ("order_type", "OrderType"),
                       ("time_in_force", "TimeInForce"), ("price_ticks", "i64"),
                       ("quantity_t", "u64")]),
    ("OrderRejected", [("client_order_id", "u64"), ("request", "RequestKind"),
                       ("reason", "u16"), ("text", "str")]),
    ("Fill", [("client_order_id", "u64"), ("order_id", "u64"), ("trade_id", "u64"),
              ("symbol", "str"), ("side", "Side"), ("price_ticks", "i64"),
              ("quantity_t", "u64"), ("leaves_t", "u64"), ("aggressor", "bool"),
              ("time_ns", "i64")]),
    ("Cancelled", [("client_order_id", "u64"), ("order_id", "u64"), ("cancelled_t", "u64"),
                   ("cause", "u8")]),
    ("Amended", [("client_order_id", "u64"), ("order_id", "u64"), ("price_ticks", "i64"),
                 ("quantity_t", "u64"), ("priority_kept", "bool")]),
    ("Expired", [("client_order_id", "u64"), ("order_id", "u64"), ("expired_t", "u64")]),
    ("Heartbeat", []),
    ("ProtocolError", [("reason", "u16"), ("text", "str")]),
    # Tags 10 and 11 are reserved (no message of this protocol version).
    (None, []),
    (None, []),
    ("BlockPosted", [("client_order_id", "u64"), ("block_id", "u64"), ("account", "u32"),
                     ("symbol", "str"), ("side", "Side"), ("price_ticks", "i64"),
                     ("quantity_t", "u64"), ("directed", "bool")]),
    ("BlockDeal", [("client_order_id", "u64"), ("block_id", "u64"), ("deal_id", "u64"),
                   ("trade_id", "u64"), ("account", "u32"), ("symbol", "str"), ("side", "Side"),
                   ("price_ticks", "i64"), ("quantity_t", "u64"), ("remaining_t", "u64"),
                   ("status", "u8"), ("time_ns", "i64")]),
    ("BlockCancelled", [("client_order_id", "u64"), ("block_id", "u64"), ("account", "u32"),
                        ("cancelled_t", "u64"), ("cause", "u8")]),
    ("BlockRejected", [("client_order_id", "u64"), ("request", "u8"), ("reason", "u16"),
                       ("text", "str")]),
    ("BidAccepted", [("client_order_id", "u64"), ("auction_id", "u64"), ("bid_id", "u64"),
                     ("price_ticks", "i64"), ("quantity_t", "u64"), ("amend", "u8")]),
    ("BidRejected", [("client_order_id", "u64"), ("request", "u8"), ("reason", "u16"),
                     ("text", "str")]),
    ("BidCancelled", [("client_order_id", "u64"), ("auction_id", "u64"), ("bid_id", "u64"),
                      ("cancelled_t", "u64"), ("cause", "u8")]),
    ("AuctionResult", [("auction_id", "u64"), ("symbol", "str"), ("pricing", "u8"),
                       ("clearing_ticks", "i64"), ("sold_t", "u64"), ("unsold_t", "u64"),
                       ("side", "Side"), ("client_order_id", "u64"), ("bid_id", "u64"),
                       ("trade_id", "u64"), ("price_ticks", "i64"), ("quantity_t", "u64"),
                       ("time_ns", "i64")]),
]


def _named(table):
    """The (tag, kind, fields) of a table's messages, reserved tags left out."""
    return [(tag, kind, fields) for tag, (kind, fields) in enumerate(table) if kind is not None]


class Message:
    """One message: its kind (e.g. "NewOrder") and its fields by name."""

    def __init__(self, kind, **fields):
        self.kind = kind
        self.fields = fields

    def __getattr__(self, name):
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __eq__(self, other):
        return isinstance(other, Message) and (self.kind, self.fields) == (other.kind, other.fields)

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"{self.kind}({inner})"


class ServerFrame:
    """A server message with its sequence number (0 = not sequenced)."""

    def __init__(self, seq, message):
        self.seq = seq
        self.message = message

    def __eq__(self, other):
        return isinstance(other, ServerFrame) and (self.seq, self.message) == (other.seq, other.message)

    def __repr__(self):
        return f"ServerFrame(seq={self.seq}, message={self.message!r})"


class ProtocolDecodeError(Exception):
    """Bytes that are not a valid frame. `kind` names the rule broken, as
    in docs/PROTOCOL.md: FrameTooLarge, Truncated, UnknownTag, TrailingBytes,
    InvalidUtf8, InvalidBool, FieldTooLong."""

    def __init__(self, kind, detail=""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


# ---------------------------------------------------------------------------
# Encoding.

def _encode_field(out, name, ftype, value):
    if ftype in _INTS:
        out += struct.pack(_INTS[ftype], value)
    elif ftype in _ENUMS:
        if value not in _ENUMS[ftype]:
            raise ValueError(f"{name}: unknown {ftype} tag {value}")
        out += struct.pack("<I", value)
    elif ftype == "bool":
        out += b"\x01" if value else b"\x00"
    elif ftype == "str":
        data = value.encode("utf-8")
        if len(data) > _MAX_LEN[name]:
            raise ValueError(f"{name} is {len(data)} bytes, above {_MAX_LEN[name]}")
        out += struct.pack("<Q", len(data)) + data
    else:
        raise AssertionError(ftype)


def _encode_message(table, message):
    for tag, kind, fields in _named(table):
        if kind == message.kind:
            out = bytearray(struct.pack("<I", tag))
            for name, ftype in fields:
                _encode_field(out, name, ftype, message.fields[name])
            if set(message.fields) != {n for n, _ in fields}:
                raise ValueError(f"{kind}: fields {sorted(message.fields)}")
            return out
    raise ValueError(f"unknown message {message.kind}")


def encode_client_payload(message):
    """A client message's payload, without the length prefix."""
    return bytes(_encode_message(CLIENT_MESSAGES, message))


def encode_server_payload(frame):
    """A server frame's payload, without the length prefix."""
    return struct.pack("<Q", frame.seq) + bytes(_encode_message(SERVER_MESSAGES, frame.message))


def frame(payload):
    """Puts the u32 little-endian length in front of a payload."""
    return struct.pack("<I", len(payload)) + payload


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


def _decode_field(reader, name, ftype):
    if ftype in _INTS:
        return reader.unpack(_INTS[ftype])
    if ftype in _ENUMS:
        tag = reader.unpack("<I")
        if tag not in _ENUMS[ftype]:
            raise ProtocolDecodeError("UnknownTag", f"unknown {ftype} tag {tag}")
        return tag
    if ftype == "bool":
        value = reader.unpack("<B")
        if value > 1:
            raise ProtocolDecodeError("InvalidBool", f"{name} is {value}")
        return value == 1
    if ftype == "str":
        length = reader.unpack("<Q")
        data = reader.take(length)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolDecodeError("InvalidUtf8", f"{name}: {e}") from None
        return text
    raise AssertionError(ftype)


def _decode_message(table, type_name, reader):
    tag = reader.unpack("<I")
    if tag >= len(table) or table[tag][0] is None:
        raise ProtocolDecodeError("UnknownTag", f"unknown {type_name} tag {tag}")
    kind, fields = table[tag]
    values = {name: _decode_field(reader, name, ftype) for name, ftype in fields}
    return Message(kind, **values)


def _finish(reader, message, value):
    extra = len(reader.data) - reader.pos
    if extra:
        raise ProtocolDecodeError("TrailingBytes", f"{extra} bytes after the message")
    # String lengths are checked once the whole frame has decoded.
    for name, field in message.fields.items():
        if name in _MAX_LEN and len(field.encode("utf-8")) > _MAX_LEN[name]:
            raise ProtocolDecodeError("FieldTooLong", f"{name} is above {_MAX_LEN[name]} bytes")
    return value


def decode_client_payload(payload):
    """Decodes one client message payload (no length prefix)."""
    reader = _Reader(payload)
    message = _decode_message(CLIENT_MESSAGES, "ClientMessage", reader)
    return _finish(reader, message, message)


def decode_server_payload(payload):
    """Decodes one server frame payload (no length prefix)."""
    reader = _Reader(payload)
    seq = reader.unpack("<Q")
    message = _decode_message(SERVER_MESSAGES, "ServerMessage", reader)
    return _finish(reader, message, ServerFrame(seq, message))


def split_frame(buffer, max_frame):
    """Takes one frame off the front of `buffer` (bytes): returns
    (payload, rest), or (None, buffer) while the frame is incomplete. Checks
    the length against `max_frame` before waiting for the payload."""
    if len(buffer) < LENGTH_PREFIX_LEN:
        return None, buffer
    (length,) = struct.unpack_from("<I", buffer)
    if length > max_frame:
        raise ProtocolDecodeError("FrameTooLarge", f"frame of {length} bytes, maximum {max_frame}")
    end = LENGTH_PREFIX_LEN + length
    if len(buffer) < end:
        return None, buffer
    return bytes(buffer[LENGTH_PREFIX_LEN:end]), buffer[end:]


# ---------------------------------------------------------------------------
# Constructors, one per client message.

def login(broker_id, secret, resume_from_seq=0, protocol_version=PROTOCOL_VERSION):
    return Message("Login", protocol_version=protocol_version, broker_id=broker_id,
                   secret=secret, resume_from_seq=resume_from_seq)


def new_order(client_order_id, account, symbol, side, order_type, time_in_force,
              price_ticks, quantity_t):
    return Message("NewOrder", client_order_id=client_order_id, account=account, symbol=symbol,
                   side=side, order_type=order_type, time_in_force=time_in_force,
                   price_ticks=price_ticks, quantity_t=quantity_t)


def cancel(client_order_id):
    return Message("Cancel", client_order_id=client_order_id)


def amend(client_order_id, price_ticks, quantity_t):
    return Message("Amend", client_order_id=client_order_id, price_ticks=price_ticks,
                   quantity_t=quantity_t)


def take(client_order_id, account, symbol, order_id, side, quantity_t):
    """A listing-agreement take: trade `quantity_t` of the resting order
    `order_id` (its public id, as the feed's order view shows it) at its
    price. `side` is the taker's: BUY takes a resting sell."""
    return Message("Take", client_order_id=client_order_id, account=account, symbol=symbol,
                   order_id=order_id, side=side, quantity_t=quantity_t)


def post_block(client_order_id, account, symbol, side, price_ticks, quantity_t, counterparty=0):
    return Message("PostBlock", client_order_id=client_order_id, account=account, symbol=symbol,
                   side=side, price_ticks=price_ticks, quantity_t=quantity_t,
                   counterparty=counterparty)


def accept_block(client_order_id, account, block_id, quantity_t):
    return Message("AcceptBlock", client_order_id=client_order_id, account=account,
                   block_id=block_id, quantity_t=quantity_t)


def cancel_block(client_order_id, account, block_id):
    return Message("CancelBlock", client_order_id=client_order_id, account=account,
                   block_id=block_id)


def bid(client_order_id, auction_id, account, price_ticks, quantity_t):
    """A sealed bid in a one-way auction (docs/PROTOCOL.md, tag 12)."""
    return Message("Bid", client_order_id=client_order_id, auction_id=auction_id,
                   account=account, price_ticks=price_ticks, quantity_t=quantity_t)


def cancel_bid(client_order_id):
    return Message("CancelBid", client_order_id=client_order_id)


def amend_bid(client_order_id, price_ticks, quantity_t):
    return Message("AmendBid", client_order_id=client_order_id, price_ticks=price_ticks,
                   quantity_t=quantity_t)


def heartbeat():
    return Message("Heartbeat")


def logout():
    return Message("Logout")


# ---------------------------------------------------------------------------
# A blocking client over one TCP connection.

class Client:
    """One broker session. Not thread-safe; every call blocks up to the
    socket's timeout."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.logged_in = False
        # The highest sequence number seen: pass it as resume_from_seq when
        # reconnecting.
        self.last_seq = 0

    @classmethod
    def connect(cls, host, port, timeout=5.0, tls_ca=None, tls_server_name=None):
        """Connects, over TLS when `tls_ca` names a PEM file of the CA
        certificates to trust; the server's certificate must then carry
        `tls_server_name` (default: `host`)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls_ca is not None:
            context = ssl.create_default_context(cafile=tls_ca)
            try:
                sock = context.wrap_socket(sock, server_hostname=tls_server_name or host)
            except BaseException:
                sock.close()
                raise
        return cls(sock)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, message):
        self.sock.sendall(frame(encode_client_payload(message)))

    def read(self):
        """The next server frame. Raises EOFError when the server closed."""
        while True:
            max_frame = MAX_FRAME_AFTER_LOGIN if self.logged_in else MAX_FRAME_BEFORE_LOGIN
            payload, self.buffer = split_frame(self.buffer, max_frame)
            if payload is not None:
                server_frame = decode_server_payload(payload)
                if server_frame.seq != UNSEQUENCED:
                    self.last_seq = max(self.last_seq, server_frame.seq)
                if server_frame.message.kind == "LoginAccepted":
                    self.logged_in = True
                return server_frame
            chunk = self.sock.recv(65536)
            if not chunk:
                if self.buffer:
                    raise ProtocolDecodeError("UnexpectedEof", f"{len(self.buffer)} bytes into a frame")
                raise EOFError("the server closed the connection")
            self.buffer += chunk

    def login(self, broker_id, secret, resume_from_seq=0, protocol_version=PROTOCOL_VERSION):
        """Sends Login and returns the server's answer (LoginAccepted or
        LoginRejected)."""
        self.send(login(broker_id, secret, resume_from_seq, protocol_version))
        return self.read()

    def new_order(self, client_order_id, account, symbol, side, order_type, time_in_force,
                  price_ticks, quantity_t):
        self.send(new_order(client_order_id, account, symbol, side, order_type, time_in_force,
                            price_ticks, quantity_t))

    def cancel(self, client_order_id):
        self.send(cancel(client_order_id))

    def amend(self, client_order_id, price_ticks, quantity_t):
        self.send(amend(client_order_id, price_ticks, quantity_t))

    def take(self, client_order_id, account, symbol, order_id, side, quantity_t):
        self.send(take(client_order_id, account, symbol, order_id, side, quantity_t))

    def post_block(self, client_order_id, account, symbol, side, price_ticks, quantity_t,
                   counterparty=0):
        self.send(post_block(client_order_id, account, symbol, side, price_ticks, quantity_t,
                             counterparty))

    def accept_block(self, client_order_id, account, block_id, quantity_t):
        self.send(accept_block(client_order_id, account, block_id, quantity_t))

    def cancel_block(self, client_order_id, account, block_id):
        self.send(cancel_block(client_order_id, account, block_id))

    def bid(self, client_order_id, auction_id, account, price_ticks, quantity_t):
        self.send(bid(client_order_id, auction_id, account, price_ticks, quantity_t))

    def cancel_bid(self, client_order_id):
        self.send(cancel_bid(client_order_id))

    def amend_bid(self, client_order_id, price_ticks, quantity_t):
        self.send(amend_bid(client_order_id, price_ticks, quantity_t))

    def heartbeat(self):
        self.send(heartbeat())

    def logout(self):
        self.send(logout())


# ---------------------------------------------------------------------------
# The examples of docs/PROTOCOL.md, and the self-test against them.

SYMBOL = "CEA2025"

EXAMPLES = {
    "client.Login": login(broker_id=7, secret="s3cret", resume_from_seq=41),
    "client.NewOrder": new_order(1001, account=42, symbol=SYMBOL, side=Side.BUY,
                                 order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
                                 price_ticks=9750, quantity_t=1000),
    "client.Cancel": cancel(1001),
    "client.Amend": amend(1001, price_ticks=9760, quantity_t=600),
    "client.Heartbeat": heartbeat(),
    "client.Logout": logout(),
    "client.Take": take(1004, account=42, symbol=SYMBOL, order_id=900007, side=Side.BUY,
                        quantity_t=300),
    "client.Bid": bid(2001, auction_id=7, account=42, price_ticks=9300, quantity_t=50000),
    "client.CancelBid": cancel_bid(2001),
    "client.AmendBid": amend_bid(2001, price_ticks=9350, quantity_t=40000),
    "server.LoginAccepted": ServerFrame(0, Message("LoginAccepted", trading_day=20250314,
                                                   last_seq=57)),
    "server.LoginRejected": ServerFrame(0, Message("LoginRejected", reason=402,
                                                   text="bad credentials")),
    "server.OrderAccepted": ServerFrame(58, Message(
        "OrderAccepted", client_order_id=1001, order_id=900001, symbol=SYMBOL, side=Side.BUY,
        order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY, price_ticks=9750,
        quantity_t=1000)),
    "server.OrderRejected": ServerFrame(59, Message(
        "OrderRejected", client_order_id=1002, request=RequestKind.NEW_ORDER, reason=202,
        text="insufficient cash")),
    "server.Fill": ServerFrame(60, Message(
        "Fill", client_order_id=1001, order_id=900001, trade_id=31, symbol=SYMBOL,
        side=Side.BUY, price_ticks=9750, quantity_t=400, leaves_t=600, aggressor=False,
        time_ns=1741916400123456789)),
    "server.Amended": ServerFrame(61, Message(
        "Amended", client_order_id=1001, order_id=900001, price_ticks=9760, quantity_t=600,
        priority_kept=False)),
    "server.Cancelled": ServerFrame(62, Message(
        "Cancelled", client_order_id=1001, order_id=900001, cancelled_t=600,
        cause=CancelCause.REQUESTED)),
    "server.Expired": ServerFrame(63, Message(
        "Expired", client_order_id=1003, order_id=900007, expired_t=250)),
    "server.Heartbeat": ServerFrame(0, Message("Heartbeat")),
    "server.ProtocolError": ServerFrame(0, Message("ProtocolError", reason=414,
                                                   text="unknown ClientMessage tag 11")),
    "client.PostBlock": post_block(1004, account=42, symbol=SYMBOL, side=Side.SELL,
                                   price_ticks=9000, quantity_t=300000, counterparty=43),
    "client.AcceptBlock": accept_block(2001, account=43, block_id=5, quantity_t=100000),
    "client.CancelBlock": cancel_block(1005, account=42, block_id=5),
    "server.BlockPosted": ServerFrame(64, Message(
        "BlockPosted", client_order_id=1004, block_id=5, account=42, symbol=SYMBOL,
        side=Side.SELL, price_ticks=9000, quantity_t=300000, directed=True)),
    "server.BlockDeal": ServerFrame(65, Message(
        "BlockDeal", client_order_id=1004, block_id=5, deal_id=6, trade_id=32, account=42,
        symbol=SYMBOL, side=Side.SELL, price_ticks=9000, quantity_t=100000,
        remaining_t=200000, status=0, time_ns=1741932000000000000)),
    "server.BlockCancelled": ServerFrame(66, Message(
        "BlockCancelled", client_order_id=1004, block_id=5, account=42, cancelled_t=200000,
        cause=CancelCause.EXPIRED)),
    "server.BlockRejected": ServerFrame(67, Message(
        "BlockRejected", client_order_id=1006, request=0, reason=132,
        text="block below minimum")),
    "server.BidAccepted": ServerFrame(64, Message(
        "BidAccepted", client_order_id=2001, auction_id=7, bid_id=900011, price_ticks=9300,
        quantity_t=50000, amend=0)),
    "server.BidRejected": ServerFrame(65, Message(
        "BidRejected", client_order_id=2002, request=0, reason=143,
        text="bid outside auction range")),
    "server.BidCancelled": ServerFrame(66, Message(
        "BidCancelled", client_order_id=2001, auction_id=7, bid_id=900011, cancelled_t=10000,
        cause=CancelCause.AUCTION_UNFILLED)),
    "server.AuctionResult": ServerFrame(67, Message(
        "AuctionResult", auction_id=7, symbol=SYMBOL, pricing=0, clearing_ticks=9250,
        sold_t=150000, unsold_t=0, side=Side.BUY, client_order_id=2001, bid_id=900011,
        trade_id=32, price_ticks=9250, quantity_t=40000, time_ns=1741928400000000000)),
}

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "PROTOCOL.md")

_BLOCK = re.compile(r"^```hex (\S+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def doc_examples(text):
    """{name: bytes} for every ```hex NAME block of the doc: on each line,
    the hex bytes before any '#' comment."""
    examples = {}
    for name, body in _BLOCK.findall(text):
        data = bytearray()
        for line in body.splitlines():
            for token in line.split("#", 1)[0].split():
                if not re.fullmatch(r"[0-9a-f]{2}", token):
                    raise ValueError(f"{name}: {token!r} is not a hex byte")
                data.append(int(token, 16))
        if name in examples:
            raise ValueError(f"{name} appears twice")
        examples[name] = bytes(data)
    return examples


def encode_example(name, value):
    if name.startswith("client."):
        return frame(encode_client_payload(value))
    return frame(encode_server_payload(value))


def decode_example(name, data):
    payload, rest = split_frame(data, MAX_FRAME_AFTER_LOGIN)
    assert payload is not None and rest == b"", name
    if name.startswith("client."):
        return decode_client_payload(payload)
    return decode_server_payload(payload)


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
    names = ([f"client.{n}" for n, _ in CLIENT_MESSAGES if n]
             + [f"server.{n}" for n, _ in SERVER_MESSAGES if n])
    assert sorted(examples) == sorted(names), (sorted(examples), sorted(names))
    assert sorted(EXAMPLES) == sorted(names)
    passed = 0
    for name in names:
        expected = examples[name]
        encoded = encode_example(name, EXAMPLES[name])
        if encoded != expected:
            raise AssertionError(f"{name}: encoded {encoded.hex(' ')}\n doc     {expected.hex(' ')}")
        if decode_example(name, expected) != EXAMPLES[name]:
            raise AssertionError(f"{name}: decoded {decode_example(name, expected)!r}")
        passed += 1

    login_payload = encode_client_payload(EXAMPLES["client.Login"])
    order_payload = encode_client_payload(EXAMPLES["client.NewOrder"])
    fill_payload = encode_server_payload(EXAMPLES["server.Fill"])
    checks = [
        ("FrameTooLarge", lambda: split_frame(b"\x01\x01\x00\x00", MAX_FRAME_BEFORE_LOGIN)),
        ("Truncated", lambda: decode_client_payload(login_payload[:-1])),
        ("Truncated", lambda: decode_client_payload(b"")),
        ("UnknownTag", lambda: decode_client_payload(struct.pack("<I", 7))),
        ("UnknownTag", lambda: decode_client_payload(struct.pack("<I", 11))),
        ("UnknownTag", lambda: decode_client_payload(struct.pack("<I", 15))),
        ("UnknownTag", lambda: decode_server_payload(struct.pack("<QI", 1, 10))),
        ("UnknownTag", lambda: decode_server_payload(struct.pack("<QI", 1, 20))),
        # side is the u32 right after the 7-byte symbol.
        ("UnknownTag", lambda: decode_client_payload(order_payload[:31] + b"\x02" + order_payload[32:])),
        ("TrailingBytes", lambda: decode_client_payload(login_payload + b"\x00")),
        ("InvalidUtf8", lambda: decode_client_payload(order_payload[:24] + b"\xff" + order_payload[25:])),
        # aggressor is at offset 72 + 7 of the Fill payload.
        ("InvalidBool", lambda: decode_server_payload(fill_payload[:79] + b"\x02" + fill_payload[80:])),
        ("Truncated", lambda: decode_client_payload(order_payload[:16] + struct.pack("<Q", 2**63) + order_payload[24:])),
        ("FieldTooLong", lambda: decode_client_payload(encode_client_payload(Message(
            "Login", protocol_version=1, broker_id=7, secret="", resume_from_seq=0))[:10]
            + struct.pack("<Q", 65) + b"x" * 65 + struct.pack("<Q", 0))),
    ]
    for kind, action in checks:
        _expect_error(kind, action)
        passed += 1
    assert split_frame(frame(order_payload)[:-1], MAX_FRAME_AFTER_LOGIN) == (None, frame(order_payload)[:-1])
    passed += 1
    print(f"broker_client selftest: {passed} passed, 0 failed")


def print_examples():
    """Prints every example as an annotated ```hex block (for the doc)."""
    for name, value in EXAMPLES.items():
        print(f"```hex {name}")
        for hex_bytes, comment in _annotate(name, value):
            print(f"{hex_bytes:<26}# {comment}" if comment else hex_bytes)
        print("```\n")


def _annotate(name, value):
    client = name.startswith("client.")
    message = value if client else value.message
    payload = encode_client_payload(value) if client else encode_server_payload(value)
    table = CLIENT_MESSAGES if client else SERVER_MESSAGES
    lines = [(struct.pack("<I", len(payload)), f"frame length: {len(payload)}")]
    if not client:
        lines.append((struct.pack("<Q", value.seq), f"seq: {value.seq}"))
    tag, _, fields = next(e for e in _named(table) if e[1] == message.kind)
    lines.append((struct.pack("<I", tag), f"tag {tag}: {message.kind}"))
    for fname, ftype in fields:
        out = bytearray()
        v = message.fields[fname]
        _encode_field(out, fname, ftype, v)
        if ftype == "str":
            lines.append((bytes(out[:8]), f"{fname} length: {len(out) - 8}"))
            text = bytes(out[8:])
            for start in range(0, len(text), 8):
                comment = f"{fname}: \"{v}\"" if start == 0 else ""
                lines.append((text[start:start + 8], comment))
        else:
            if ftype == "bool":
                comment = f"{fname}: {str(v).lower()}"
            elif ftype in _ENUM_NAMES:
                comment = f"{fname}: {v} = {_ENUM_NAMES[ftype][v]}"
            elif fname == "cause":
                comment = f"{fname}: {v} = {_CAUSE_NAMES[v]}"
            else:
                comment = f"{fname}: {v}"
            lines.append((bytes(out), comment))
    return [(b.hex(" "), c) for b, c in lines]


_ENUM_NAMES = {
    "Side": ["Buy", "Sell"],
    "OrderType": ["Limit", "Market"],
    "TimeInForce": ["Day", "Ioc", "Fok"],
    "RequestKind": {0: "NewOrder", 1: "Cancel", 2: "Amend", 3: "Take"},
}
_CAUSE_NAMES = {0: "Requested", 1: "Unfilled", 2: "FokKilled", 3: "BookFull", 4: "SelfTrade",
                5: "Expired", 20: "Suspended", 22: "Refused", 23: "AuctionUnfilled"}


def _read_new(client, after_seq):
    """The next frame that is not a replayed report: a login with resume 0
    first replays the broker's reports numbered up to `after_seq` (its
    `LoginAccepted.last_seq`), which are skipped unprinted, however many."""
    for _ in range(after_seq + 1):
        f = client.read()
        if f.seq == UNSEQUENCED or f.seq > after_seq:
            return f
    raise RuntimeError(f"more than {after_seq} reports replayed")


def _wait_for(client, after_seq, client_order_id, kinds, limit=1000):
    """Reads frames until one about `client_order_id` whose kind is in
    `kinds`, skipping heartbeats and the replayed reports (`_read_new`);
    at most `limit` frames after those."""
    for _ in range(limit):
        f = _read_new(client, after_seq)
        print(f"  broker read {f!r}")
        if f.message.kind == "Heartbeat":
            continue
        if getattr(f.message, "client_order_id", None) != client_order_id:
            continue
        if f.message.kind in ("OrderRejected", "LoginRejected", "ProtocolError"):
            raise RuntimeError(f"refused: {f!r}")
        if f.message.kind in kinds:
            return f
    raise RuntimeError(f"no {kinds} for order {client_order_id} in {limit} frames")


def _bid_without_auction(client, client_order_id):
    """Bids in an auction that was never announced, then withdraws and
    amends bids that do not exist: the engine refuses the bid (144
    UnknownAuction, numbered), the gateway the other two (409, unsequenced).
    Returns whether all three answers came as docs/PROTOCOL.md says."""
    client.bid(client_order_id, auction_id=2**63, account=2001, price_ticks=90_00,
               quantity_t=100_000)
    client.cancel_bid(client_order_id + 1)
    client.amend_bid(client_order_id + 2, price_ticks=90_00, quantity_t=1)
    answers = []
    for _ in range(100):
        f = client.read()
        if f.message.kind == "BidRejected":
            answers.append((f.message.client_order_id - client_order_id, f.message.request,
                            f.message.reason, f.seq != UNSEQUENCED))
            if len(answers) == 3:
                break
    print(f"auction bids refused: {answers}")
    return answers == [(0, 0, 144, True), (1, 1, 409, False), (2, 2, 409, False)]


def demo(address, quantity_t=50, price_ticks=90_00, tls_ca=None, tls_server_name=None):
    """Two demo brokers trade with each other; returns 0 when both got
    their fill. Over TLS when `tls_ca` is given (see Client.connect)."""
    import time
    host, port = address.rsplit(":", 1)
    # Client order ids are unique per broker per day: take them from the
    # clock, so that the demo can be run again on the same market.
    order_id = int(time.time() * 1000)
    tls = {"tls_ca": tls_ca, "tls_server_name": tls_server_name}
    seller = Client.connect(host, int(port), timeout=10.0, **tls)
    buyer = Client.connect(host, int(port), timeout=10.0, **tls)
    with seller, buyer:
        accepted = []
        for client, broker, secret in ((seller, 1, "demo-secret-1"), (buyer, 2, "demo-secret-2")):
            answer = client.login(broker_id=broker, secret=secret)
            print(f"broker {broker} login: {answer!r}")
            if answer.message.kind != "LoginAccepted":
                return 1
            accepted.append(answer.message.last_seq)
        seller_seen, buyer_seen = accepted
        seller.new_order(order_id, account=1001, symbol=SYMBOL, side=Side.SELL,
                         order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
                         price_ticks=price_ticks, quantity_t=quantity_t)
        _wait_for(seller, seller_seen, order_id, ("OrderAccepted",))
        buyer.new_order(order_id, account=2001, symbol=SYMBOL, side=Side.BUY,
                        order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
                        price_ticks=price_ticks, quantity_t=quantity_t)
        _wait_for(buyer, buyer_seen, order_id, ("OrderAccepted",))
        buy_fill = _wait_for(buyer, buyer_seen, order_id, ("Fill",))
        sell_fill = _wait_for(seller, seller_seen, order_id, ("Fill",))
        ok = (buy_fill.message.trade_id == sell_fill.message.trade_id
              and buy_fill.message.quantity_t == sell_fill.message.quantity_t == quantity_t
              and buy_fill.message.leaves_t == sell_fill.message.leaves_t == 0
              and buy_fill.message.aggressor and not sell_fill.message.aggressor)
        print(f"trade {buy_fill.message.trade_id}: {quantity_t} t {SYMBOL} at "
              f"{price_ticks / 100:.2f}; buyer seq {buy_fill.seq}, seller seq {sell_fill.seq}")
        ok = _bid_without_auction(buyer, order_id + 1) and ok
        for client in (seller, buyer):
            client.logout()
        print("demo ok" if ok else "demo FAILED")
        return 0 if ok else 1


def take_demo(address, tls_ca=None, tls_server_name=None):
    """A listing-agreement take between the two demo brokers: broker 1
    rests three asks of CEA2025 at 91.00, 91.50 and 92.00 (50 t each);
    broker 2 takes 20 t of the third-best by its public order id and pays
    its price. Returns 0 when both got their fill of the one trade."""
    import time
    host, port = address.rsplit(":", 1)
    base = int(time.time() * 1000) * 10
    tls = {"tls_ca": tls_ca, "tls_server_name": tls_server_name}
    seller = Client.connect(host, int(port), timeout=10.0, **tls)
    taker = Client.connect(host, int(port), timeout=10.0, **tls)
    with seller, taker:
        seen = []
        for client, broker, secret in ((seller, 1, "demo-secret-1"), (taker, 2, "demo-secret-2")):
            answer = client.login(broker_id=broker, secret=secret)
            if answer.message.kind != "LoginAccepted":
                print(f"broker {broker} login: {answer!r}")
                return 1
            seen.append(answer.message.last_seq)
        seller_seen, taker_seen = seen
        public_ids = []
        for level, price_ticks in enumerate((91_00, 91_50, 92_00)):
            seller.new_order(base + level, account=1001, symbol=SYMBOL, side=Side.SELL,
                             order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
                             price_ticks=price_ticks, quantity_t=50)
            accepted = _wait_for(seller, seller_seen, base + level, ("OrderAccepted",))
            public_ids.append(accepted.message.order_id)
        target = public_ids[2]
        taker.take(base + 9, account=2001, symbol=SYMBOL, order_id=target, side=Side.BUY,
                   quantity_t=20)
        accepted = _wait_for(taker, taker_seen, base + 9, ("OrderAccepted",))
        taker_fill = _wait_for(taker, taker_seen, base + 9, ("Fill",))
        maker_fill = _wait_for(seller, seller_seen, base + 2, ("Fill",))
        ok = (accepted.message.time_in_force == TimeInForce.IOC
              and accepted.message.price_ticks == 92_00
              and taker_fill.message.trade_id == maker_fill.message.trade_id
              and taker_fill.message.price_ticks == maker_fill.message.price_ticks == 92_00
              and taker_fill.message.quantity_t == maker_fill.message.quantity_t == 20
              and taker_fill.message.leaves_t == 0 and maker_fill.message.leaves_t == 30
              and taker_fill.message.aggressor and not maker_fill.message.aggressor
              and maker_fill.message.order_id == target)
        print(f"take: trade {taker_fill.message.trade_id}: 20 t {SYMBOL} at 92.00 of order "
              f"{target}; 30 t of it still rest")
        for client in (seller, taker):
            client.logout()
        print("take ok" if ok else "take FAILED")
        return 0 if ok else 1


def _next_block(client, after_seq, kinds, limit=1000):
    """Reads frames until a block report whose kind is in `kinds`, skipping
    heartbeats and replayed reports; a BlockRejected is an error."""
    for _ in range(limit):
        f = _read_new(client, after_seq)
        print(f"  broker read {f!r}")
        if f.message.kind == "Heartbeat":
            continue
        if f.message.kind in ("BlockRejected", "ProtocolError"):
            raise RuntimeError(f"refused: {f!r}")
        if f.message.kind in kinds:
            return f
    raise RuntimeError(f"no {kinds} in {limit} frames")


def block_demo(address, quantity_t=100_000, price_ticks=90_00):
    """Demo broker 1 posts a block sell of CEA2025 directed at account
    2001; demo broker 2 learns its id from its own BlockPosted report and
    accepts it whole; both read the deal. Needs CEA block hours (13:00-15:00
    Beijing time: `cetx serve --start-at`). Returns 0 when both saw the
    trade."""
    import time
    host, port = address.rsplit(":", 1)
    request_id = int(time.time() * 1000)
    seller = Client.connect(host, int(port), timeout=10.0)
    buyer = Client.connect(host, int(port), timeout=10.0)
    with seller, buyer:
        seen = []
        for client, broker, secret in ((seller, 1, "demo-secret-1"), (buyer, 2, "demo-secret-2")):
            answer = client.login(broker_id=broker, secret=secret)
            print(f"broker {broker} login: {answer!r}")
            if answer.message.kind != "LoginAccepted":
                return 1
            seen.append(answer.message.last_seq)
        seller.post_block(request_id, account=1001, symbol=SYMBOL, side=Side.SELL,
                          price_ticks=price_ticks, quantity_t=quantity_t, counterparty=2001)
        posted = _next_block(seller, seen[0], ("BlockPosted",))
        told = _next_block(buyer, seen[1], ("BlockPosted",))
        if told.message.block_id != posted.message.block_id or not told.message.directed:
            return 1
        buyer.accept_block(request_id, account=2001, block_id=told.message.block_id,
                           quantity_t=quantity_t)
        sold = _next_block(seller, seen[0], ("BlockDeal",))
        bought = _next_block(buyer, seen[1], ("BlockDeal",))
        ok = (sold.message.trade_id == bought.message.trade_id != 0
              and sold.message.status == bought.message.status == 0
              and sold.message.side == Side.SELL and bought.message.side == Side.BUY
              and bought.message.quantity_t == quantity_t and bought.message.remaining_t == 0)
        print(f"block {posted.message.block_id} trade {bought.message.trade_id}: {quantity_t} t "
              f"{SYMBOL} at {price_ticks / 100:.2f}")
        for client in (seller, buyer):
            client.logout()
        print("block demo ok" if ok else "block demo FAILED")
        return 0 if ok else 1


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--selftest", action="store_true", help="check against docs/PROTOCOL.md")
    parser.add_argument("--examples", action="store_true", help="print the doc's hex examples")
    parser.add_argument("--doc", default=DOC, help="path of PROTOCOL.md")
    parser.add_argument("--demo", metavar="HOST:PORT",
                        help="trade between the two demo brokers on a running server")
    parser.add_argument("--take-demo", metavar="HOST:PORT",
                        help="a listing-agreement take between the two demo brokers")
    parser.add_argument("--tls-ca", metavar="FILE",
                        help="with --demo: connect over TLS, trusting the CA certificates in FILE")
    parser.add_argument("--tls-server-name", metavar="NAME",
                        help="with --tls-ca: the name the server's certificate must carry "
                             "(default: the host of --demo)")
    parser.add_argument("--block-demo", metavar="HOST:PORT",
                        help="a block trade between the two demo brokers (in CEA block hours)")
    args = parser.parse_args(argv)
    if args.take_demo:
        return take_demo(args.take_demo, tls_ca=args.tls_ca,
                         tls_server_name=args.tls_server_name)
    if args.block_demo:
        return block_demo(args.block_demo)
    if args.demo:
        return demo(args.demo, tls_ca=args.tls_ca, tls_server_name=args.tls_server_name)
    if args.examples:
        print_examples()
    elif args.selftest:
        selftest(args.doc)
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
