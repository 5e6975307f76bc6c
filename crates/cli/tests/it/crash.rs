//! Crash safety (hardening issue, part 4): senders over HTTP and over the live link, and
//! letter writers, keep sending while the real `haurach serve` is killed with SIGKILL at
//! random moments and started again on the same data and address. Each sender sends one
//! thing after another and resends what was not acknowledged, with the same client id,
//! until it is. At the end every acknowledged message and letter must be stored exactly
//! once, in the order it was sent. With two nodes on one PostgreSQL and NATS, one node at
//! a time is killed: some senders move to the surviving node, the others wait for the
//! restart.
//!
//! The moments come from a seeded RNG; the seed is printed, and `HAURACH_CRASH_SEED`
//! replays the same schedule (the senders' interleaving is the machine's).
//! `HAURACH_CRASH_KILLS` sets the number of kills (12 by default; CI runs that).
//! Each run prints one line of counts, e.g. `crash sqlite: 13 kills, 3,412 acknowledged
//! (...), 3,412 found, 0 lost, 0 doubled, 0 out of order, ...`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use haurach_proto::{
    ClientFrame, LetterList, Message, MessageKind, MessagePage, SendMessage, ServerFrame,
};
use haurach_testkit::{NatsServer, PgCluster, or_skip};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::Server;

/// Kills per run unless `HAURACH_CRASH_KILLS` says otherwise (one more follows once the
/// senders have stopped).
const DEFAULT_KILLS: u32 = 12;
/// How long a server runs before it is killed, from when it says it listens: from the
/// moment it opens its store (replaying the journal) to well into the sending.
const UPTIME_MS: std::ops::Range<u64> = 0..2_500;
/// With two nodes, how long the killed one stays down before it starts again.
const DOWNTIME_MS: std::ops::Range<u64> = 0..2_000;
/// Messages a link sender has sent and not yet seen acknowledged, at most.
const LINK_WINDOW: usize = 8;
/// Letters one writer sends at most: `GET /api/v1/letters?box=sent` lists up to 500, and
/// the check reads them all back that way. A writer that has sent these many hands over
/// to a new one.
const LETTERS_PER_WRITER: usize = 450;
/// How long the senders get to finish what they have in flight once told to stop.
const FINISH_WITHIN: Duration = Duration::from_secs(120);
/// Between tries while a server is down.
const BACKOFF: Duration = Duration::from_millis(25);
/// How long a sender lets a server refuse the same request with server errors before it
/// fails the test: a restart takes a second or two, not this.
const REFUSED_AT_MOST: Duration = Duration::from_secs(30);

#[test]
fn sqlite_every_acknowledged_message_and_letter_survives_sigkill_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path().join("data"), Vec::new());
    crash_test("sqlite", vec![node]);
}

#[test]
fn postgres_every_acknowledged_message_and_letter_survives_sigkill_once_and_in_order() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = vec![("HAURACH_DATABASE_URL", pg.url())];
    let node = Node::start(dir.path().join("data"), env);
    crash_test("postgres", vec![node]);
}

#[test]
fn two_nodes_lose_and_double_nothing_acknowledged_when_one_is_killed_at_a_time() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let Some(nats) = or_skip(NatsServer::start()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nodes = ["one", "two"]
        .iter()
        .map(|name| {
            let env = vec![
                ("HAURACH_DATABASE_URL", pg.url()),
                ("HAURACH_NATS_URL", nats.url()),
            ];
            Node::start(dir.path().join(name), env)
        })
        .collect();
    crash_test("two nodes", nodes);
}

/// The kills of one run.
struct Plan {
    seed: u64,
    kills: u32,
}

impl Plan {
    fn from_env(name: &str) -> Plan {
        let seed = match std::env::var("HAURACH_CRASH_SEED") {
            Ok(seed) => seed.parse().expect("HAURACH_CRASH_SEED is a number"),
            Err(_) => rand::random(),
        };
        let kills = match std::env::var("HAURACH_CRASH_KILLS") {
            Ok(kills) => kills.parse().expect("HAURACH_CRASH_KILLS is a number"),
            Err(_) => DEFAULT_KILLS,
        };
        eprintln!("crash {name}: seed {seed} (replay: HAURACH_CRASH_SEED={seed}), {kills} kills");
        Plan { seed, kills }
    }
}

/// A `haurach serve` on a data directory and a fixed address, killed and started again.
struct Node {
    /// `None` while it is down.
    server: Option<Server>,
    data: PathBuf,
    /// `127.0.0.1:PORT`, the same after every restart.
    addr: String,
    env: Vec<(&'static str, String)>,
}

impl Node {
    fn start(data: PathBuf, env: Vec<(&'static str, String)>) -> Node {
        let mut node = Node {
            server: None,
            data,
            addr: "127.0.0.1:0".into(),
            env,
        };
        node.restart();
        node.addr = node.server.as_ref().unwrap().addr.clone();
        node
    }

    /// SIGKILL, as a crash would; returns once the process is gone.
    fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill();
        }
    }

    /// Starts it again; returns once it has bound its address.
    fn restart(&mut self) {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.server = Some(Server::start_with(&self.data, &self.addr, &env));
    }
}

/// What the senders share: the nodes' addresses, a client, and the signal to stop.
#[derive(Clone)]
struct Ctx {
    http: reqwest::Client,
    addrs: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
}

impl Ctx {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Which node a sender talks to, and what it does when that node does not answer.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// Waits for the node to come back.
    Stay(usize),
    /// Moves to the next node.
    Move(usize),
}

impl Route {
    fn node(self) -> usize {
        match self {
            Route::Stay(n) | Route::Move(n) => n,
        }
    }

    fn failed(&mut self, nodes: usize) {
        if let Route::Move(n) = self {
            *n = (*n + 1) % nodes;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum What {
    HttpMessages,
    LinkMessages,
    Letters,
}

/// A citizen and their session.
#[derive(Debug, Clone)]
struct Account {
    name: String,
    token: String,
}

/// One acknowledged message or letter, in the order its sender sent it.
#[derive(Debug)]
struct Acked {
    id: String,
    /// The sequence number it was acknowledged with (messages).
    seq: Option<i64>,
}

/// What one sender sent and was told.
#[derive(Debug)]
struct Log {
    label: String,
    what: What,
    acked: Vec<Acked>,
    /// Sent more than once: the first answer never came.
    resent: usize,
    /// Of those, found already stored when sent again.
    already: usize,
    /// Refused with a server error or an error frame, and sent again.
    refused: usize,
}

impl Log {
    fn new(label: &str, what: What) -> Log {
        Log {
            label: label.into(),
            what,
            acked: Vec::new(),
            resent: 0,
            already: 0,
            refused: 0,
        }
    }
}

/// A sender's `n`th message or letter: its client id, and its words (which name the id,
/// so a double is seen by content too).
fn item(label: &str, n: usize) -> (String, String) {
    let id = format!("{label}-{n}");
    let body = format!("{id}: number {n} from {label}, sent until acknowledged");
    (id, body)
}

/// The sender and number in a client id made by [`item`].
fn parse_id(id: &str) -> Option<(&str, usize)> {
    let (label, n) = id.rsplit_once('-')?;
    Some((label, n.parse().ok()?))
}

/// Per bond: who sends over HTTP, who sends over the link. (Letter writers register as
/// they are needed, while the kills go on.)
type Bonds = Vec<(Account, Account)>;

fn crash_test(name: &str, mut nodes: Vec<Node>) {
    let plan = Plan::from_env(name);
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The CLI installs rustls's provider at start; this client is made in the test.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ctx = Ctx {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        addrs: Arc::new(nodes.iter().map(|n| n.addr.clone()).collect()),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let bonds = rt.block_on(bonds(&ctx, 2));
    let senders = spawn_senders(&rt, &ctx, &bonds);

    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut kills = 0;
    for _ in 0..plan.kills {
        let victim = rng.random_range(0..nodes.len());
        std::thread::sleep(Duration::from_millis(rng.random_range(UPTIME_MS)));
        nodes[victim].kill();
        kills += 1;
        if nodes.len() > 1 {
            std::thread::sleep(Duration::from_millis(rng.random_range(DOWNTIME_MS)));
        }
        nodes[victim].restart();
    }
    // The last restart gets a moment of sending too; then each sender finishes what it
    // has in flight.
    std::thread::sleep(Duration::from_secs(1));
    ctx.stop.store(true, Ordering::Relaxed);
    let logs: Vec<Log> = rt.block_on(async {
        let mut logs = Vec::new();
        for sender in senders {
            let log = tokio::time::timeout(FINISH_WITHIN, sender)
                .await
                .expect("senders finish what they have in flight")
                .expect("a sender panicked");
            logs.push(log);
        }
        logs
    });
    // And once more, every node, after the last acknowledgement: what was acknowledged
    // just now must survive a kill too.
    for node in &mut nodes {
        node.kill();
        kills += 1;
    }
    for node in &mut nodes {
        node.restart();
    }

    let rows = rt.block_on(read_back(&ctx, &bonds, &logs));
    let counts = check(&logs, &rows);
    println!(
        "crash {name}: {}, in {:.0} s",
        counts.line(kills),
        started.elapsed().as_secs_f64()
    );
    assert!(
        counts.lost == 0
            && counts.doubled == 0
            && counts.out_of_order == 0
            && counts.never_sent == 0,
        "crash {name} (seed {}): {}\n{}",
        plan.seed,
        counts.line(kills),
        counts.first_problems(20)
    );
    assert!(
        counts.resent > 0,
        "no kill caught a sender between sending and its acknowledgement"
    );
    drop(nodes);
}

/// Registers `n` bonds on the first node, in the open profile: every tier passes at any
/// distance.
async fn bonds(ctx: &Ctx, n: usize) -> Bonds {
    let mut bonds = Vec::new();
    for b in 0..n {
        let http = citizen(ctx, &format!("http{b}")).await;
        let link = citizen(ctx, &format!("link{b}")).await;
        let (status, invite) = call(ctx, "POST", "/api/v1/bond/invites", &http.token, None).await;
        assert_eq!(status, 201, "{invite}");
        let accept = json!({"code": invite["code"], "profile": "open"});
        let (status, bond) = call(ctx, "POST", "/api/v1/bond", &link.token, Some(accept)).await;
        assert_eq!(status, 201, "{bond}");
        bonds.push((http, link));
    }
    bonds
}

fn credentials(name: &str) -> Value {
    json!({"name": name, "password": "purple-dragon"})
}

async fn citizen(ctx: &Ctx, name: &str) -> Account {
    let creds = credentials(name);
    let (status, body) = call(ctx, "POST", "/api/v1/accounts", "", Some(creds.clone())).await;
    assert_eq!(status, 201, "register {name}: {body}");
    let (status, body) = call(ctx, "POST", "/api/v1/sessions", "", Some(creds)).await;
    assert_eq!(status, 200, "log in {name}: {body}");
    Account {
        name: name.into(),
        token: body["token"].as_str().unwrap().into(),
    }
}

/// One request to the first node, which must be up.
async fn call(
    ctx: &Ctx,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("http://{}{path}", ctx.addrs[0]);
    let mut req = ctx
        .http
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("the first node answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Starts every sender: per bond one over HTTP and one over the link, and one letter
/// writer. With two nodes, half of them move when their node dies, half wait for it.
fn spawn_senders(rt: &Runtime, ctx: &Ctx, bonds: &Bonds) -> Vec<tokio::task::JoinHandle<Log>> {
    let nodes = ctx.addrs.len();
    let mut senders = Vec::new();
    for (b, (http, link)) in bonds.iter().enumerate() {
        let (http_route, link_route) = if b % 2 == 0 {
            (Route::Move(0), Route::Stay(1 % nodes))
        } else {
            (Route::Stay(0), Route::Move(1 % nodes))
        };
        senders.push(rt.spawn(http_messages(ctx.clone(), http.clone(), http_route)));
        senders.push(rt.spawn(link_messages(ctx.clone(), link.clone(), link_route)));
    }
    let to = bonds[0].1.name.clone();
    senders.push(rt.spawn(letters(ctx.clone(), to, Route::Move(0))));
    senders
}

/// POSTs `body` until it is answered with one of `accept` (a retry after a lost answer
/// gets 200 where the first try got 201); returns the status, the answer and how many
/// tries it took. Connection errors, time-outs and server errors are tried again; any
/// other answer fails the test.
async fn post_until_answered(
    ctx: &Ctx,
    route: &mut Route,
    (path, token, body): (&str, &str, &Value),
    accept: &[u16],
    log: &mut Log,
) -> (u16, Value, u32) {
    let mut tries = 0;
    let mut refused_since: Option<Instant> = None;
    loop {
        tries += 1;
        let url = format!("http://{}{path}", ctx.addrs[route.node()]);
        match ctx
            .http
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
        {
            Ok(res) => {
                let status = res.status().as_u16();
                match res.json::<Value>().await {
                    Ok(answer) if accept.contains(&status) => return (status, answer, tries),
                    Ok(answer) if status >= 500 => {
                        log.refused += 1;
                        let since = *refused_since.get_or_insert_with(Instant::now);
                        assert!(
                            since.elapsed() < REFUSED_AT_MOST,
                            "{}: {path} refused for {REFUSED_AT_MOST:?}: {status} {answer}",
                            log.label
                        );
                    }
                    Ok(answer) => panic!("{}: {path} answered {status}: {answer}", log.label),
                    // The answer was cut off: the server died while sending it.
                    Err(_) => route.failed(ctx.addrs.len()),
                }
            }
            Err(_) => route.failed(ctx.addrs.len()),
        }
        tokio::time::sleep(BACKOFF).await;
    }
}

/// Sends voice messages over HTTP, one after another, until told to stop.
async fn http_messages(ctx: Ctx, me: Account, mut route: Route) -> Log {
    let mut log = Log::new(&me.name, What::HttpMessages);
    for n in 0.. {
        if ctx.stopping() {
            break;
        }
        let (id, body) = item(&me.name, n);
        let send = json!({"kind": "voice", "id": id, "body": body});
        let post = ("/api/v1/bond/messages", me.token.as_str(), &send);
        let (status, answer, tries) =
            post_until_answered(&ctx, &mut route, post, &[200, 201], &mut log).await;
        let message: Message = serde_json::from_value(answer).unwrap();
        assert_eq!(message.id, id);
        assert!(
            tries > 1 || status == 201,
            "{id} was answered {status} the first time it was sent"
        );
        if tries > 1 {
            log.resent += 1;
            log.already += usize::from(status == 200);
        }
        log.acked.push(Acked {
            id,
            seq: Some(message.seq),
        });
    }
    log
}

/// Writes letters to `to`, one after another, until told to stop. Each writer writes
/// [`LETTERS_PER_WRITER`], then a new one registers and takes over.
async fn letters(ctx: Ctx, to: String, mut route: Route) -> Log {
    let mut log = Log::new("letters", What::Letters);
    'writers: for w in 0.. {
        let writer = register(&ctx, &mut route, &format!("letters{w}"), &mut log).await;
        for n in 0..LETTERS_PER_WRITER {
            if ctx.stopping() {
                break 'writers;
            }
            let (id, body) = item(&writer.name, n);
            let send = json!({"to": to, "body": body, "id": id});
            let post = ("/api/v1/letters", writer.token.as_str(), &send);
            let (status, answer, tries) =
                post_until_answered(&ctx, &mut route, post, &[200, 201], &mut log).await;
            assert_eq!(answer["body"], body.as_str());
            assert!(
                tries > 1 || status == 201,
                "{id} was answered {status} the first time it was sent"
            );
            if tries > 1 {
                log.resent += 1;
                log.already += usize::from(status == 200);
            }
            log.acked.push(Acked { id, seq: None });
        }
    }
    log
}

/// Registers `name` and logs in while servers are being killed: a retry after a lost
/// answer finds the name taken (by this very registration).
async fn register(ctx: &Ctx, route: &mut Route, name: &str, log: &mut Log) -> Account {
    let creds = credentials(name);
    let post = ("/api/v1/accounts", "", &creds);
    let (status, answer, tries) = post_until_answered(ctx, route, post, &[201, 409], log).await;
    assert!(status == 201 || tries > 1, "register {name}: {answer}");
    let post = ("/api/v1/sessions", "", &creds);
    let (_, answer, _) = post_until_answered(ctx, route, post, &[200], log).await;
    Account {
        name: name.into(),
        token: answer["token"].as_str().unwrap().into(),
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends voice messages over the live link, up to [`LINK_WINDOW`] unacknowledged at a
/// time, until told to stop and every one is acknowledged (`sent`). When the link drops,
/// it links again (resuming after the last message it saw) and first sends again, in
/// order, every message not yet acknowledged.
async fn link_messages(ctx: Ctx, me: Account, mut route: Route) -> Log {
    let mut log = Log::new(&me.name, What::LinkMessages);
    let mut unacked: VecDeque<(String, String)> = VecDeque::new();
    let mut resent: HashSet<String> = HashSet::new();
    let mut already: HashSet<String> = HashSet::new();
    let mut next = 0;
    let mut after = 0;
    while !(ctx.stopping() && unacked.is_empty()) {
        let url = format!(
            "ws://{}/api/v1/link?token={}&after={after}",
            ctx.addrs[route.node()],
            me.token
        );
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
            route.failed(ctx.addrs.len());
            tokio::time::sleep(BACKOFF).await;
            continue;
        };
        let mut linked = true;
        for (id, body) in &unacked {
            resent.insert(id.clone());
            linked = linked && send(&mut ws, id, body).await;
        }
        while linked {
            while linked && !ctx.stopping() && unacked.len() < LINK_WINDOW {
                let (id, body) = item(&me.name, next);
                next += 1;
                linked = send(&mut ws, &id, &body).await;
                unacked.push_back((id, body));
            }
            if ctx.stopping() && unacked.is_empty() {
                break;
            }
            let text = match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
                Ok(Some(Ok(WsMessage::Text(text)))) => text,
                Ok(Some(Ok(WsMessage::Close(_)))) | Ok(Some(Err(_))) | Ok(None) | Err(_) => break,
                Ok(Some(Ok(_))) => continue,
            };
            match serde_json::from_str(&text).expect("server frames parse") {
                ServerFrame::Sent { id, seq } => {
                    let Some(at) = unacked.iter().position(|(u, _)| *u == id) else {
                        panic!("{}: `sent` for {id}, which is not waiting", me.name);
                    };
                    assert_eq!(at, 0, "{}: `sent` for {id} before earlier ones", me.name);
                    unacked.pop_front();
                    log.acked.push(Acked { id, seq: Some(seq) });
                }
                ServerFrame::Message { message } => {
                    after = after.max(message.seq);
                    // Replayed after a kill: stored before it, never acknowledged.
                    if message.from == me.name && unacked.iter().any(|(u, _)| *u == message.id) {
                        already.insert(message.id);
                    }
                }
                ServerFrame::Error { id, problem } => {
                    log.refused += 1;
                    eprintln!("{}: error for {id:?}: {problem:?}; linking again", me.name);
                    break;
                }
                _ => {}
            }
        }
        let _ = ws.close(None).await;
        tokio::time::sleep(BACKOFF).await;
    }
    log.resent = resent.len();
    log.already = already.len();
    log
}

/// Sends one message over the link; false when the link is gone.
async fn send(ws: &mut Ws, id: &str, body: &str) -> bool {
    let frame = ClientFrame::Send(SendMessage {
        kind: MessageKind::Voice,
        id: id.into(),
        body: Some(body.into()),
        feeling: None,
        sealed: None,
    });
    let text = serde_json::to_string(&frame).unwrap();
    ws.send(WsMessage::Text(text.into())).await.is_ok()
}

/// A message or letter as stored: its client id, words and place in its order
/// (messages: the sequence number; letters: the sender's sent box, oldest first).
#[derive(Debug)]
struct Row {
    what: What,
    id: String,
    body: String,
    order: i64,
}

/// Reads back, from the first node, every message of every bond and every letter of
/// every writer.
async fn read_back(ctx: &Ctx, bonds: &Bonds, logs: &[Log]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (http, link) in bonds {
        let mut after = 0;
        loop {
            let path = format!("/api/v1/bond/messages?after={after}&limit=500");
            let (status, page) = call(ctx, "GET", &path, &http.token, None).await;
            assert_eq!(status, 200, "{page}");
            let page: MessagePage = serde_json::from_value(page).unwrap();
            for m in &page.messages {
                let what = if m.from == link.name {
                    What::LinkMessages
                } else {
                    What::HttpMessages
                };
                rows.push(Row {
                    what,
                    id: m.id.clone(),
                    body: m.body.clone().unwrap_or_default(),
                    order: m.seq,
                });
                after = m.seq;
            }
            if !page.more {
                break;
            }
        }
    }
    let writers: HashSet<&str> = logs
        .iter()
        .filter(|log| log.what == What::Letters)
        .flat_map(|log| log.acked.iter().filter_map(|a| parse_id(&a.id)))
        .map(|(writer, _)| writer)
        .collect();
    for writer in writers {
        let (status, session) = call(
            ctx,
            "POST",
            "/api/v1/sessions",
            "",
            Some(credentials(writer)),
        )
        .await;
        assert_eq!(status, 200, "log in {writer}: {session}");
        let token = session["token"].as_str().unwrap();
        let path = "/api/v1/letters?box=sent&limit=500";
        let (status, list) = call(ctx, "GET", path, token, None).await;
        assert_eq!(status, 200, "{list}");
        let list: LetterList = serde_json::from_value(list).unwrap();
        assert!(list.letters.len() < 500, "{writer} sent too many to list");
        // Newest first: the oldest is first in the order.
        for (order, letter) in list.letters.iter().rev().enumerate() {
            let body = letter.body.clone().unwrap_or_default();
            rows.push(Row {
                what: What::Letters,
                id: body.split_once(':').map_or("", |(id, _)| id).into(),
                body,
                order: order as i64,
            });
        }
    }
    rows
}

/// What a run found.
#[derive(Debug, Default)]
struct Counts {
    acked: HashMap<What, usize>,
    found: usize,
    /// Acknowledged, not stored.
    lost: usize,
    /// Stored more than once (the same client id or the same words).
    doubled: usize,
    /// Stored out of the order sent, or under another sequence number than acknowledged.
    out_of_order: usize,
    /// Stored, but no sender sent it (or not with these words).
    never_sent: usize,
    resent: usize,
    already: usize,
    refused: usize,
    /// What each count above zero is about.
    problems: Vec<String>,
}

impl Counts {
    /// The first `n` problems, one a line.
    fn first_problems(&self, n: usize) -> String {
        let mut out = self.problems[..n.min(self.problems.len())].join("\n");
        if self.problems.len() > n {
            out.push_str(&format!("\n... and {} more", self.problems.len() - n));
        }
        out
    }

    fn line(&self, kills: u32) -> String {
        let acked = |w| self.acked.get(&w).copied().unwrap_or(0);
        let total = self.acked.values().sum::<usize>();
        let mut line = format!(
            "{kills} kills, {} acknowledged ({} messages over HTTP, {} over the link, {} letters), \
             {} found, {} lost, {} doubled, {} out of order; {} sent again after a kill, {} of \
             them already stored",
            Thousands(total),
            Thousands(acked(What::HttpMessages)),
            Thousands(acked(What::LinkMessages)),
            Thousands(acked(What::Letters)),
            Thousands(self.found),
            Thousands(self.lost),
            Thousands(self.doubled),
            Thousands(self.out_of_order),
            Thousands(self.resent),
            Thousands(self.already),
        );
        if self.refused > 0 {
            line.push_str(&format!("; {} refused and sent again", self.refused));
        }
        if self.never_sent > 0 {
            line.push_str(&format!("; {} never sent", self.never_sent));
        }
        line
    }
}

/// Compares what the senders were told with what is stored.
fn check(logs: &[Log], rows: &[Row]) -> Counts {
    let mut counts = Counts::default();
    let by_label: HashMap<(&str, What), &Log> = logs
        .iter()
        .flat_map(|log| {
            // A letter's id names its writer, not the pool's log.
            let labels: Vec<&str> = if log.what == What::Letters {
                log.acked
                    .iter()
                    .filter_map(|a| parse_id(&a.id).map(|(l, _)| l))
                    .collect()
            } else {
                vec![log.label.as_str()]
            };
            labels.into_iter().map(move |l| ((l, log.what), log))
        })
        .collect();
    // Each sender's stored rows, in stored order.
    let mut stored: HashMap<(&str, What), Vec<&Row>> = HashMap::new();
    for row in rows {
        let known = parse_id(&row.id)
            .filter(|(label, n)| {
                by_label.contains_key(&(*label, row.what)) && item(label, *n).1 == row.body
            })
            .map(|(label, _)| label);
        match known {
            Some(label) => stored.entry((label, row.what)).or_default().push(row),
            None => {
                counts.never_sent += 1;
                counts.problems.push(format!("never sent: {row:?}"));
            }
        }
    }
    for log in logs {
        *counts.acked.entry(log.what).or_default() += log.acked.len();
        counts.resent += log.resent;
        counts.already += log.already;
        counts.refused += log.refused;
    }
    for ((label, what), log) in &by_label {
        let mut mine = stored.remove(&(*label, *what)).unwrap_or_default();
        mine.sort_by_key(|r| r.order);
        let mut where_stored: HashMap<&str, Vec<i64>> = HashMap::new();
        for row in &mine {
            where_stored.entry(&row.id).or_default().push(row.order);
        }
        let acked = log
            .acked
            .iter()
            .filter(|a| parse_id(&a.id).is_some_and(|(l, _)| l == *label));
        for a in acked {
            match where_stored.get(a.id.as_str()) {
                None => {
                    counts.lost += 1;
                    counts.problems.push(format!("lost: {a:?}"));
                }
                Some(orders) => {
                    counts.found += 1;
                    if let Some(seq) = a.seq
                        && orders[0] != seq
                    {
                        counts.out_of_order += 1;
                        counts.problems.push(format!(
                            "acknowledged as {seq}, stored as {orders:?}: {a:?}"
                        ));
                    }
                }
            }
        }
        let ids: HashSet<&str> = mine.iter().map(|r| r.id.as_str()).collect();
        let bodies: HashSet<&str> = mine.iter().map(|r| r.body.as_str()).collect();
        let doubled = mine.len() - ids.len().min(bodies.len());
        if doubled > 0 {
            counts.doubled += doubled;
            for (id, orders) in where_stored.iter().filter(|(_, o)| o.len() > 1) {
                counts.problems.push(format!("doubled: {id} at {orders:?}"));
            }
        }
        let sent_order: Vec<usize> = mine
            .iter()
            .filter_map(|r| parse_id(&r.id).map(|(_, n)| n))
            .collect();
        for pair in sent_order.windows(2).filter(|p| p[1] < p[0]) {
            counts.out_of_order += 1;
            counts.problems.push(format!(
                "{label}: number {} stored after {}",
                pair[1], pair[0]
            ));
        }
    }
    counts
}

/// A count with thousands separated by commas.
struct Thousands(usize);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}
