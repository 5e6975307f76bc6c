//! A thin HTTP client for the server's API: the wire types of `haurach_proto` in and
//! out, problem details turned into errors that say the server's `detail`, and retries
//! for the requests that are safe to repeat.

use std::time::Duration;

use haurach_proto::{Message, Problem, SendMessage};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long one request may take before it counts as a network error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a message is sent before giving up on a flaky network.
const SEND_ATTEMPTS: u32 = 6;

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// The server could not be reached, or the connection broke.
    Network {
        /// The server.
        base: String,
        /// The innermost cause, e.g. "Connection refused (os error 111)".
        cause: String,
    },
    /// The server answered with a problem detail.
    Problem(Box<Problem>),
    /// The server answered something that is not what the API promises.
    Unexpected {
        /// The status.
        status: StatusCode,
        /// What was wrong.
        what: String,
    },
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Network { base, cause } => write!(
                f,
                "cannot reach the server at {base}: {cause} (is `haurach serve` running there?)"
            ),
            ApiError::Problem(p) => write!(f, "{}", for_people(p)),
            // Not Haurach's answer (that is always problem+json): a proxy in front of it
            // answered, or something else listens there.
            ApiError::Unexpected { status, .. } if status.as_u16() == 413 => write!(
                f,
                "the server, or a proxy in front of it, refused a request this large \
                 ({status}); behind nginx, raise client_max_body_size (docs/deploy.md)"
            ),
            ApiError::Unexpected { status, what } => {
                write!(f, "the server answered {status} unexpectedly: {what}")
            }
        }
    }
}

impl std::error::Error for ApiError {}

/// The fields of the gatekeeper's book, as the API names them and as `register` takes them.
const BOOK_FLAGS: &[(&str, &str)] = &[
    ("book.family_name", "--family-name"),
    ("book.name", "--called"),
    ("book.from", "--from"),
    ("book.age", "--age"),
    ("book.calling", "--calling"),
    ("book.note", "--note"),
];

/// What a person at the command line is told of a problem: the server's detail, except
/// where it names an API field or route, which here reads as the flag or command to use.
fn for_people(p: &Problem) -> String {
    match p.code.as_str() {
        "book_required" => "this city's gate takes applications: write at least what you are \
             called in the gatekeeper's book (haurach register NAME --called \"YOUR NAME\"; \
             --family-name, --from, --age, --calling and --note say more)"
            .to_owned(),
        "invite_required" => "this city lets people in by invitation only: ask a citizen for \
             a code (haurach gate invite), then haurach register NAME --invite CODE"
            .to_owned(),
        "awaiting_tower" => "your application is with the tower: until it is approved you can \
             only read it (haurach gate status)"
            .to_owned(),
        "application_declined" => "the tower declined your application: its answer is in \
             your book (haurach gate status)"
            .to_owned(),
        "letter_sealed" => "read the letter first (haurach letter read ID)".to_owned(),
        _ => BOOK_FLAGS
            .iter()
            .fold(p.detail.clone(), |detail, (field, flag)| {
                detail.replace(field, flag)
            }),
    }
}

impl ApiError {
    /// The problem's stable code, if the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Problem(p) => Some(&p.code),
            _ => None,
        }
    }

    /// Whether repeating the same request may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Network { .. } => true,
            ApiError::Problem(p) => matches!(p.status, 502..=504),
            ApiError::Unexpected { status, .. } => matches!(status.as_u16(), 502..=504),
        }
    }
}

/// The API of one server, as one citizen (or as nobody, before logging in).
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A client for the server at `base` (`http://host:port`), with a bearer token or none.
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("haurach-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The same server with another token.
    pub fn with_token(&self, token: String) -> Api {
        Api {
            token: Some(token),
            ..self.clone()
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request; returns the status and the body of a success.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<(StatusCode, Vec<u8>), ApiError> {
        let body = body.map(|b| ("application/json", b.to_json()));
        let (status, _, bytes) = self.bytes(method, path, body).await?;
        Ok((status, bytes))
    }

    /// Sends one request with a body of any type (`(content type, bytes)`); returns the
    /// status, the headers and the body of a success.
    pub async fn bytes(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), ApiError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let res = req.send().await.map_err(|e| self.network(&e))?;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.map_err(|e| self.network(&e))?.to_vec();
        if status.is_success() {
            return Ok((status, headers, bytes));
        }
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => Err(ApiError::Problem(Box::new(problem))),
            Err(_) => Err(ApiError::Unexpected {
                status,
                what: snippet(&bytes),
            }),
        }
    }

    fn network(&self, e: &reqwest::Error) -> ApiError {
        let mut cause: &dyn std::error::Error = e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let cause = if e.is_timeout() {
            "the request timed out".to_owned()
        } else {
            cause.to_string()
        };
        ApiError::Network {
            base: self.base.clone(),
            cause,
        }
    }

    /// A request whose answer is JSON of type `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<T, ApiError> {
        let (status, bytes) = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Unexpected {
            status,
            what: format!("{e} in {}", snippet(&bytes)),
        })
    }

    /// A request whose answer has no body worth reading (204).
    pub async fn empty(
        &self,
        method: Method,
        path: &str,
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<(), ApiError> {
        self.call(method, path, body).await.map(|_| ())
    }

    /// `GET path` → the body as it is (GPX, SVG).
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        self.bytes(Method::GET, path, None).await.map(|(_, _, b)| b)
    }

    /// `POST path` with raw bytes (a parcel) → JSON.
    pub async fn upload<T: DeserializeOwned>(
        &self,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<T, ApiError> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            // A parcel may take longer than a JSON request.
            .timeout(Duration::from_secs(600))
            .body(bytes);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.map_err(|e| self.network(&e))?;
        let (status, bytes) = self.read(res).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Unexpected {
            status,
            what: format!("{e} in {}", snippet(&bytes)),
        })
    }

    /// `GET path` → the raw bytes (a parcel).
    pub async fn download(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .timeout(Duration::from_secs(600));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.map_err(|e| self.network(&e))?;
        Ok(self.read(res).await?.1)
    }

    /// The status and body of a success, or the problem.
    async fn read(&self, res: reqwest::Response) -> Result<(StatusCode, Vec<u8>), ApiError> {
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| self.network(&e))?.to_vec();
        if status.is_success() {
            return Ok((status, bytes));
        }
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => Err(ApiError::Problem(Box::new(problem))),
            Err(_) => Err(ApiError::Unexpected {
                status,
                what: snippet(&bytes),
            }),
        }
    }

    /// `GET path` → JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.json(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body → JSON.
    pub async fn post<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.json(Method::POST, path, Some(body)).await
    }

    /// Stores a message, repeating it (with the same client id, so it is stored once)
    /// while the network fails.
    pub async fn send_message(&self, message: &SendMessage) -> Result<Message, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .json(Method::POST, "/api/v1/bond/messages", Some(message))
                .await
            {
                Err(e) if e.is_transient() && attempt < SEND_ATTEMPTS => {
                    let wait = Duration::from_millis(200 << attempt.min(5));
                    eprintln!("{e}; sending again in {} ms", wait.as_millis());
                    tokio::time::sleep(wait).await;
                }
                res => return res,
            }
        }
    }
}

/// The start of a body, for error messages.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".to_owned();
    }
    // A proxy's error page: its title says it all, the markup nothing.
    if let Some(title) = text
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(title, _)| title.trim())
    {
        return format!("a page that says \"{title}\" (not Haurach's answer: a proxy's?)");
    }
    let mut out: String = text.chars().take(200).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Bodies as trait objects, so one `call` serves every request type.
pub mod erased {
    use serde::Serialize;

    /// Anything that serialises to a JSON body.
    pub trait Body {
        /// The JSON.
        fn to_json(&self) -> Vec<u8>;
    }

    impl<T: Serialize> Body for T {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(self).expect("request bodies always serialise")
        }
    }
}
