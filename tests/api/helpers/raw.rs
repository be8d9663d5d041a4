//! Calls with hand-made request bytes, below the generated clients.

#[allow(unused_imports)]
use super::*;

use prost::bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

#[derive(Debug)]
pub struct RawCoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCoder;
    type Decoder = RawCoder;

    fn encoder(&mut self) -> RawCoder {
        RawCoder
    }

    fn decoder(&mut self) -> RawCoder {
        RawCoder
    }
}

impl Encoder for RawCoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut body = vec![0; src.remaining()];
        src.copy_to_slice(&mut body);
        Ok(Some(body))
    }
}

// ---- e. An empty update mask means "the populated fields" (AIP-134) ----

/// A unary call of `path` with `body` as the request's bytes, as `user` (if any).
pub async fn raw_call(
    channel: Channel,
    path: &str,
    body: Vec<u8>,
    user: Option<&str>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("the channel is ready");
    let mut request = Request::new(body);
    if let Some(user) = user {
        request
            .metadata_mut()
            .insert("x-user-id", user.parse().expect("an ASCII user id"));
    }
    let path = http::uri::PathAndQuery::try_from(path).expect("a valid path");
    grpc.unary(request, path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}
