//! The authentication of every call of a service, as a tower layer: asynchronous, because a
//! token may name an identity provider's key that has to be fetched first. It fills the call's
//! [`CallerSlot`] (for the access log and the span) and puts the [`Caller`] in the request's
//! extensions; a refusal is answered as the one error mapping (`AppError` → `Status`) says.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::server::NamedService;

use super::{Authenticator, Caller};
use crate::tracecontext::CallerSlot;

/// Wraps a service so that every call is authenticated first.
#[derive(Debug, Clone)]
pub struct AuthLayer(pub Authenticator);

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            auth: self.0.clone(),
        }
    }
}

/// A service whose calls are authenticated.
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    auth: Authenticator,
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for Authenticated<S>
where
    S: tower::Service<
            http::Request<B>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was made ready serves this call (tower's rule for services that
        // answer later).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let auth = self.auth.clone();
        Box::pin(async move {
            match auth.authenticate(request.headers()).await {
                Ok(user) => {
                    if let Some(slot) = request.extensions().get::<CallerSlot>() {
                        slot.fill(user.as_str());
                    }
                    request.extensions_mut().insert(Caller(user));
                    inner.call(request).await
                }
                Err(err) => Ok(tonic::Status::from(err).into_http()),
            }
        })
    }
}
