//! Binding the server's ports.

use std::{io, net::SocketAddr};

use tokio::net::TcpListener;
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};

use super::StartupError;

/// Binds `listen`. With `loopback_only`, an address that is not loopback is refused with the
/// error it makes of that address.
pub async fn bind(
    listen: &str,
    loopback_only: Option<fn(SocketAddr) -> StartupError>,
) -> Result<(TcpListener, SocketAddr), StartupError> {
    let listen_error = |source| StartupError::Listen {
        addr: listen.to_owned(),
        source,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(listen_error)?
        .collect();
    if let Some(refusal) = loopback_only
        && let Some(public) = addrs.iter().find(|a| !a.ip().is_loopback())
    {
        return Err(refusal(*public));
    }
    let listener = TcpListener::bind(addrs.as_slice())
        .await
        .map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
    Ok((listener, addr))
}

/// TCP connections from `listener` with TCP_NODELAY set (tonic does not set it on sockets
/// from a caller's listener).
pub fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = io::Result<tokio::net::TcpStream>> {
    TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%err, "could not set TCP_NODELAY");
            }
        })
    })
}
