//! docs/deploy.md's set-up, run as written as far as one machine allows (issue 19, item
//! 1): its TOML for the nodes and its nginx configuration, taken from the page, with
//! only addresses and paths made local; two nodes on a real PostgreSQL and a real NATS
//! server; nginx (Debian's) in front with TLS, on a self-signed certificate made here.
//! Two people use the city with the command-line client through nginx over HTTPS (the
//! live link over `wss`), and send each other a 5 MB parcel and a picture.
//!
//! What differs from the page: every address is 127.0.0.1 with a free port (the nodes'
//! `listen`, `trusted_proxies`, nginx's `listen` and upstreams); the nodes' `data` is a
//! directory of each under a temporary one; the certificate is self-signed, and the
//! client is told to trust it with `SSL_CERT_FILE`, as the page says.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use haurach_testkit::{NatsServer, PgCluster, or_skip};

use crate::support::{Cli, Server, invite_code};

/// The page.
const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/deploy.md");

/// The photo sent as a picture.
const PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../picture/tests/gps-photo.jpg"
);

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn the_documented_two_nodes_behind_nginx_carry_a_5_mb_parcel_and_a_picture() {
    let Some(nginx) = nginx() else {
        assert!(
            std::env::var_os("HAURACH_REQUIRE_SERVERS").is_none(),
            "nginx is needed (apt-get install nginx)"
        );
        eprintln!("skipped: no nginx");
        return;
    };
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let Some(nats) = or_skip(NatsServer::start()) else {
        return;
    };
    let page = std::fs::read_to_string(DEPLOY).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The nodes, each from the page's TOML.
    let toml = block(&page, "toml");
    let nodes: Vec<Server> = ["one", "two"]
        .iter()
        .map(|name| {
            let data = dir.path().join(name);
            let config = toml
                .replace("10.0.0.11:7420", "127.0.0.1:0")
                .replace("/var/lib/haurach", &data.to_string_lossy())
                .replace(
                    "postgres://haurach:change-me@10.0.0.20:5432/haurach",
                    &pg.url(),
                )
                .replace("nats://10.0.0.20:4222", &nats.url())
                .replace("10.0.0.10", "127.0.0.1");
            let file = dir.path().join(format!("{name}.toml"));
            std::fs::write(&file, config).unwrap();
            // The page's command; the gate as a server has it with no setting (the
            // tests' own default is open).
            Server::start_serving(
                &["serve", "--config", &file.to_string_lossy()],
                &data,
                &[("HAURACH_GATE", "application")],
            )
        })
        .collect();

    // nginx, from the page's configuration, with a self-signed certificate.
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).unwrap();
    let (ca, cert, key) = (
        tls.join("ca.pem"),
        tls.join("fullchain.pem"),
        tls.join("privkey.pem"),
    );
    // A certificate authority of this test's own, and the server's certificate from it.
    openssl(&[
        "-subj",
        "/CN=a test's own authority",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-keyout",
        &tls.join("ca.key").to_string_lossy(),
        "-out",
        &ca.to_string_lossy(),
    ]);
    openssl(&[
        "-subj",
        "/CN=haurach.example.org",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-CA",
        &ca.to_string_lossy(),
        "-CAkey",
        &tls.join("ca.key").to_string_lossy(),
        "-keyout",
        &key.to_string_lossy(),
        "-out",
        &cert.to_string_lossy(),
    ]);
    let port = free_port();
    let site = block(&page, "nginx")
        .replace("10.0.0.11:7420", &nodes[0].addr)
        .replace("10.0.0.12:7420", &nodes[1].addr)
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
        .replace(
            "/etc/letsencrypt/live/haurach.example.org/fullchain.pem",
            &cert.to_string_lossy(),
        )
        .replace(
            "/etc/letsencrypt/live/haurach.example.org/privkey.pem",
            &key.to_string_lossy(),
        );
    let _nginx = Nginx::start(&nginx, &dir.path().join("nginx"), &site, port);
    let city = format!("https://127.0.0.1:{port}");

    // Two people, through nginx over HTTPS.
    let cli = Cli::new(&nodes[0]);
    let run = |args: &[&str]| {
        let out = cli
            .cmd(args)
            .env("HAURACH_SERVER", &city)
            .env("SSL_CERT_FILE", &ca)
            .env("HAURACH_PASSWORD", "purple-dragon-7")
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "haurach {args:?} failed:\n{printed}");
        printed
    };
    run(&["register", "celestia"]);
    for name in ["amethyst", "spike"] {
        run(&["register", name, "--called", name]);
        run(&[
            "--as", "celestia", "gate", "approve", name, "--answer", "Welcome.",
        ]);
    }
    let code = invite_code(&run(&["--as", "amethyst", "invite"]));
    run(&["--as", "spike", "accept", &code]);
    run(&["--as", "amethyst", "move", "30.0", "31.0"]);
    run(&["--as", "spike", "move", "30.0", "31.001"]);

    // Spike's live link, over wss through nginx.
    let mut watch = cli.cmd(&["--as", "spike", "watch", "--for", "60"]);
    watch.env("HAURACH_SERVER", &city).env("SSL_CERT_FILE", &ca);
    let mut watch = Cli::spawn_command(watch);
    watch.expect("linked as spike", WAIT);

    // A 5 MB parcel: over nginx's default 1 MiB, so the page's client_max_body_size
    // carries it.
    let parcel: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("atlas.bin"), &parcel).unwrap();
    let sent = run(&[
        "--as",
        "amethyst",
        "letter",
        "send",
        "spike",
        "The atlas",
        "--parcel",
        &work.join("atlas.bin").to_string_lossy(),
    ]);
    let id = sent.split_whitespace().nth(1).unwrap().to_owned();
    run(&["--as", "spike", "letter", "inbox"]);
    let save = work.join("saved");
    std::fs::create_dir(&save).unwrap();
    run(&[
        "--as",
        "spike",
        "letter",
        "read",
        &id,
        "--save",
        &save.to_string_lossy(),
    ]);
    assert!(
        std::fs::read(save.join("atlas.bin")).unwrap() == parcel,
        "the parcel arrived whole"
    );

    // A picture; Spike's link hears it, and he saves it full size (within sight).
    run(&["--as", "amethyst", "send-image", PHOTO]);
    let heard = watch.expect("amethyst sent a picture", WAIT);
    let picture = heard.rsplit(' ').next().unwrap().to_owned();
    let out = work.join("picture.jpg");
    let saved = run(&[
        "--as",
        "spike",
        "picture",
        &picture,
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(saved.contains("800 px"), "{saved}");
    assert!(std::fs::metadata(&out).unwrap().len() > 10_000);
}

/// `openssl req -x509` of a new P-256 key, for a day, with `args`.
fn openssl(args: &[&str]) {
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1"])
        .args(args)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
}

/// The first block of `lang` on the page.
fn block(page: &str, lang: &str) -> String {
    let start = page
        .find(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("no {lang} block"));
    let body = &page[start + lang.len() + 4..];
    body[..body.find("```").unwrap()].to_owned()
}

/// Debian's nginx, if installed.
fn nginx() -> Option<std::path::PathBuf> {
    let path = Path::new("/usr/sbin/nginx");
    path.exists().then(|| path.to_owned())
}

/// A port free now on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx with `site` as its only server, in the foreground, everything it writes under
/// `dir`; stopped when dropped.
struct Nginx {
    child: Child,
}

impl Nginx {
    fn start(nginx: &Path, dir: &Path, site: &str, port: u16) -> Nginx {
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n access_log {d}/logs/access.log;\n client_body_temp_path {d}/body;\n\
             proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n{site}\n}}\n"
        );
        // As root, nginx's workers would run as nobody, who could not read the
        // temporary directory: they run as whoever runs the test.
        let user = if unsafe_is_root() {
            "user root root;\n"
        } else {
            ""
        };
        std::fs::write(dir.join("nginx.conf"), format!("{user}{conf}")).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let until = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < until,
                "nginx did not start: {}",
                std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child }
    }
}

impl Drop for Nginx {
    /// SIGTERM, nginx's fast shutdown: the master stops its worker and then itself. A
    /// SIGKILL would stop the master alone and leave the worker running.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + WAIT;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the test runs as root (CI does).
fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}
