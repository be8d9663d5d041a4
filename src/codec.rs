//! The protobuf codec of taskflow's own services: prost encoding with small per-call buffers.
//!
//! tonic allocates the codec's buffer eagerly for every call and keeps the encoder's buffer for
//! as long as a response stream is open. Its default of 8 KiB made each open
//! `WatchNotifications` stream cost 8 KiB before a single notification was sent. Buffers
//! here start at 256 bytes (a notification is about 200) and grow as a larger message needs.
//!
//! Bytes that do not decode as the expected message are the sender's mistake: the decoder
//! reports them as `INVALID_ARGUMENT` (prost's codec says `INTERNAL`, which tells a caller
//! the fault is the server's and invites a retry of the same bytes). The generated clients
//! share this codec, so to them an undecodable response reads the same way.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};

use crate::error::excerpt;

/// The starting size of a call's buffer (with compression, also the step it grows by).
const BUFFER_BYTES: usize = 256;
/// How many bytes of ready stream messages are sent as one write (tonic's default).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// `ProstCodec` with 256-byte buffers; the generated clients and servers use it.
#[derive(Debug, Clone)]
pub struct LeanCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for LeanCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER_BYTES, YIELD_THRESHOLD)
}

impl<T, U> Codec for LeanCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = LeanDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        LeanDecoder(PhantomData)
    }
}

/// Decodes one protobuf message; undecodable bytes are `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct LeanDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for LeanDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|err| {
            let text = err.to_string();
            let problem = text
                .strip_prefix("failed to decode Protobuf message: ")
                .unwrap_or(&text);
            Status::invalid_argument(format!(
                "the message is not a valid protocol buffer: {}",
                excerpt(problem)
            ))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        settings()
    }
}
