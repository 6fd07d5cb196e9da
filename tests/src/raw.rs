//! Requests no well-behaved SDK would send: a gRPC call with arbitrary bytes
//! as its message, and gzip bombs. Used to check that weir refuses bad input
//! and keeps serving.

use std::net::SocketAddr;

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::Status;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;

/// The gRPC service of OTLP traces.
pub const TRACE_SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
/// The gRPC service of OTLP metrics.
pub const METRICS_SERVICE: &str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
/// The gRPC service of OTLP logs.
pub const LOGS_SERVICE: &str = "opentelemetry.proto.collector.logs.v1.LogsService";

/// A codec that sends and receives message bytes as they are.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Calls `/{service}/Export` on `addr` with `message` as the request's
/// bytes (gzip-compressed on the wire when `gzip`), and returns the
/// response's bytes or the gRPC status.
///
/// # Errors
/// The status the server answered, or `UNAVAILABLE` when it cannot be
/// reached.
pub async fn grpc_export(
    addr: SocketAddr,
    service: &str,
    message: Bytes,
    gzip: bool,
) -> Result<Bytes, Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| Status::invalid_argument(e.to_string()))?
        .connect()
        .await
        .map_err(|e| Status::unavailable(format!("connect to {addr}: {e}")))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    if gzip {
        grpc = grpc.send_compressed(CompressionEncoding::Gzip);
    }
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("{addr} not ready: {e}")))?;
    let path = PathAndQuery::try_from(format!("/{service}/Export"))
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    grpc.unary(tonic::Request::new(message), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// Writes bits into a DEFLATE stream (least significant bit first).
#[derive(Debug, Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    /// `count` bits of `value`, least significant first (header fields).
    fn bits(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code of `len` bits, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.bits((code >> i) & 1, 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A valid gzip stream that inflates to `len` zero bytes while being about
/// 1,000 times smaller: one fixed-Huffman DEFLATE block of a literal zero
/// followed by back-references of 258 bytes at distance 1 (13 bits each),
/// with the correct CRC-32 and size trailer. Built directly, so making a
/// 1 GiB bomb takes milliseconds.
pub fn gzip_bomb(len: usize) -> Vec<u8> {
    const LITERAL_ZERO: (u32, u32) = (0x30, 8); // literal 0: 00110000
    const LENGTH_258: (u32, u32) = (0xC5, 8); // length code 285: 11000101
    const DISTANCE_1: (u32, u32) = (0, 5); // distance code 0: 00000
    const END_OF_BLOCK: (u32, u32) = (0, 7); // code 256: 0000000
    let mut w = BitWriter::default();
    w.bits(1, 1); // BFINAL
    w.bits(1, 2); // BTYPE = 01, fixed Huffman codes
    let mut left = len;
    if left > 0 {
        w.code(LITERAL_ZERO.0, LITERAL_ZERO.1);
        left -= 1;
    }
    while left >= 258 {
        w.code(LENGTH_258.0, LENGTH_258.1);
        w.code(DISTANCE_1.0, DISTANCE_1.1);
        left -= 258;
    }
    for _ in 0..left {
        w.code(LITERAL_ZERO.0, LITERAL_ZERO.1);
    }
    w.code(END_OF_BLOCK.0, END_OF_BLOCK.1);
    let deflate = w.finish();

    let mut out = Vec::with_capacity(deflate.len() + 18);
    // ID1 ID2, CM = deflate, no flags, no mtime, XFL 0, OS = unknown.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    out.extend_from_slice(&deflate);
    out.put_u32_le(crc32_of_zeros(len as u64));
    out.put_u32_le(len as u32); // ISIZE: the size modulo 2^32
    out
}

/// `x` times the GF(2) matrix `m` (given by its 32 columns).
fn gf2_times(m: &[u32; 32], mut x: u32) -> u32 {
    let mut sum = 0;
    let mut i = 0;
    while x != 0 {
        if x & 1 == 1 {
            sum ^= m[i];
        }
        x >>= 1;
        i += 1;
    }
    sum
}

/// `m` squared.
fn gf2_square(m: &[u32; 32]) -> [u32; 32] {
    let mut sq = [0u32; 32];
    for (i, col) in sq.iter_mut().enumerate() {
        *col = gf2_times(m, m[i]);
    }
    sq
}

/// The CRC-32 (gzip's, reflected polynomial 0xEDB88320) of `n` zero bytes,
/// in O(log n): feeding a zero bit to the CRC register is linear, so `n`
/// zero bytes is a matrix power applied to the initial register.
pub fn crc32_of_zeros(n: u64) -> u32 {
    // The operator for one zero bit.
    let mut op = [0u32; 32];
    op[0] = 0xEDB8_8320;
    for (i, col) in op.iter_mut().enumerate().skip(1) {
        *col = 1 << (i - 1);
    }
    // One zero byte is eight zero bits.
    for _ in 0..3 {
        op = gf2_square(&op);
    }
    let mut reg = 0xFFFF_FFFF_u32;
    let mut n = n;
    while n > 0 {
        if n & 1 == 1 {
            reg = gf2_times(&op, reg);
        }
        op = gf2_square(&op);
        n >>= 1;
    }
    reg ^ 0xFFFF_FFFF
}
