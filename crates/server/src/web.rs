//! The pages the server serves itself at `/`.

use axum::Router;
use axum::response::Html;
use axum::routing::get;

/// Routes for the web pages.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index))
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Haurach</title>\
         <h1>Haurach</h1><p>This server is running. The API is described at \
         <a href=/api/v1/openapi.json>/api/v1/openapi.json</a>; the live link is \
         <code>/api/v1/link</code>.</p></html>",
    )
}
