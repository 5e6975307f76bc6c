//! Places and the meeting point on a private bond, through the real CLI and the real
//! server (issue 20, `docs/privacy.md`, "Sealed places and the meeting point"): her place
//! lives on her device, her device judges arriving and leaving on its own fixes and tells
//! him sealed, his device opens each piece of news once, with the place's centre only
//! within sight; a meeting point she pins reaches him sealed and his `where` gives his way
//! to it, and his device says when he is there and tells her. Afterwards neither the
//! place's nor the meeting point's name or coordinates are anywhere in the server's data
//! directory or its log.

use haurach_bond::geo;
use haurach_proto::human;

use crate::private::{FAR, HER, SIGHT, bond_privately, mv, private_code, sql_text};
use crate::search::{Trace, files, first_found, traces_of};
use crate::support::{Cli, Server};

/// Her place, about 300 m north-east of her: digits nobody else uses.
const PLACE: (f64, f64) = (-46.121549, -7.651571);
/// Where she pins the meeting point, about 10 km south of her.
const MEET: (f64, f64) = (-46.213468, -7.662817);
/// The place's name and the pin's label, to look for afterwards.
const PLACE_NAME: &str = "the jade orchard";
const MEET_NAME: &str = "the umber bridge";

fn point(p: (f64, f64)) -> String {
    format!("{},{}", p.0, p.1)
}

#[test]
fn a_private_bond_tells_of_places_and_the_meeting_point_sealed_and_the_server_keeps_neither() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_with(&data, "127.0.0.1:0", &[("HAURACH_LOG", "debug")]);
    let cli = Cli::new(&server);
    bond_privately(&cli);
    mv(&cli, "amethyst", HER);
    mv(&cli, "spike", FAR);
    mv(&cli, "amethyst", HER);
    mv(&cli, "spike", FAR);

    // Her place is on her device; the server refuses a plain one on a private bond as
    // before, and is never asked.
    let out = cli.ok_as(
        "amethyst",
        &[
            "place",
            "add",
            PLACE_NAME,
            &PLACE.0.to_string(),
            &PLACE.1.to_string(),
            "--radius",
            "80",
        ],
    );
    assert!(
        out.contains(&format!(
            "{PLACE_NAME} — at -46.12155, -7.65157, radius 80 m; you are not there"
        )),
        "{out}"
    );
    assert!(out.contains("kept on this device only"), "{out}");

    // 40 km apart, sight closed: she arrives and leaves; each is news, sealed.
    let out = mv(&cli, "amethyst", PLACE);
    assert!(
        out.contains(&format!("you arrived at {PLACE_NAME}")),
        "{out}"
    );
    let out = mv(&cli, "amethyst", PLACE);
    assert!(!out.contains("arrived"), "once: {out}");
    let out = mv(&cli, "amethyst", HER);
    assert!(out.contains(&format!("you left {PLACE_NAME}")), "{out}");
    let out = cli.ok_as("amethyst", &["place", "list"]);
    assert!(out.contains("you are not there"), "{out}");

    // His device opens both, once each, and learns nothing of where the place is.
    let out = cli.ok_as(
        "spike",
        &["watch", "--after", "0", "--count", "2", "--for", "20"],
    );
    assert_eq!(
        out.matches(&format!("amethyst arrived at {PLACE_NAME}"))
            .count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.matches(&format!("amethyst left {PLACE_NAME}")).count(),
        1,
        "{out}"
    );
    assert!(!out.contains("-46.12"), "no centre beyond sight: {out}");
    let out = cli.ok_as("spike", &["place", "list"]);
    assert!(
        out.contains(&format!(
            "{PLACE_NAME} — (where: within sight range); they are not there"
        )),
        "{out}"
    );

    // Within sight (he is 800 m from her), her arrival carries the place's centre.
    mv(&cli, "spike", SIGHT);
    mv(&cli, "amethyst", HER);
    let out = mv(&cli, "amethyst", PLACE);
    assert!(
        out.contains(&format!("you arrived at {PLACE_NAME}")),
        "{out}"
    );
    let out = cli.ok_as(
        "spike",
        &["watch", "--after", "2", "--count", "1", "--for", "20"],
    );
    assert!(
        out.contains(&format!(
            "amethyst arrived at {PLACE_NAME} (-46.12155, -7.65157)"
        )),
        "{out}"
    );
    let out = cli.ok_as("spike", &["place", "list"]);
    assert!(
        out.contains(&format!(
            "{PLACE_NAME} — at -46.12155, -7.65157; they are there"
        )),
        "{out}"
    );

    // She pins the meeting point: it reaches him sealed, and his device works out his way
    // to it from his own fix, exactly (a pin is shared on purpose).
    let out = cli.ok_as(
        "amethyst",
        &["meet", "--at", &point(MEET), "--name", MEET_NAME],
    );
    assert!(
        out.contains(&format!("meet at {MEET_NAME} (pinned by amethyst)")),
        "{out}"
    );
    let out = cli.ok_as("spike", &["where"]);
    let way = geo::inverse(SIGHT.0, SIGHT.1, MEET.0, MEET.1);
    let expected = format!(
        "meet at {MEET_NAME} (pinned by amethyst) (-46.21347, -7.66282): you are {} {}",
        human::distance(way.distance_m),
        geo::compass_point(way.bearing_deg)
    );
    assert!(out.contains(&expected), "{expected:?} in {out}");
    let out = cli.ok_as(
        "spike",
        &["watch", "--after", "3", "--count", "1", "--for", "20"],
    );
    assert!(
        out.contains(&format!(
            "amethyst pinned the meeting point: {MEET_NAME} (-46.21347, -7.66282)"
        )),
        "{out}"
    );

    // He gets there: his device says so, and tells her.
    let out = mv(&cli, "spike", MEET);
    assert!(out.contains("you reached the meeting point"), "{out}");
    let out = cli.ok_as("spike", &["where"]);
    assert!(out.contains("you are there"), "{out}");
    let out = cli.ok_as(
        "amethyst",
        &["watch", "--after", "4", "--count", "1", "--for", "20"],
    );
    assert!(out.contains("spike reached the meeting point"), "{out}");
    let out = cli.ok_as("amethyst", &["meet"]);
    assert!(out.contains("your partner is there"), "{out}");

    // Unpinned, his `where` shows no meeting point any more.
    cli.ok_as("amethyst", &["meet", "--unpin"]);
    let out = cli.ok_as("spike", &["where"]);
    assert!(!out.contains("meet at"), "{out}");

    // The server stores her old pin (#4) again as the newest message: his device opened
    // it before at its own number, so it is a replay, and the point stays unpinned.
    let db = data.join("haurach.db");
    let again: i64 = sql_text(
        &db,
        "INSERT INTO messages (seq, bond_id, sender_id, client_id, kind, body, sent_at) \
         SELECT (SELECT MAX(seq) FROM messages) + 1, bond_id, sender_id, \
         client_id || '-again', kind, body, sent_at FROM messages WHERE seq = 4 RETURNING seq",
    )
    .parse()
    .unwrap();
    assert_eq!(again, 7);
    let out = cli.ok_as("spike", &["where"]);
    assert!(
        !out.contains("meet at"),
        "the old pin is not taken again: {out}"
    );
    let out = cli.ok_as(
        "spike",
        &["watch", "--after", "6", "--count", "1", "--for", "20"],
    );
    assert!(
        out.contains("#7 ")
            && out.contains(
                "the server sent amethyst's earlier sealed meeting point again, so this is not \
                 shown"
            ),
        "{out}"
    );

    server.kill();
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/api/v1/bond/messages"),
        "the access log is on"
    );
    let mut secrets: Vec<Trace> = Vec::new();
    for value in [PLACE.0, PLACE.1, MEET.0, MEET.1] {
        secrets.extend(traces_of(value));
    }
    for said in [PLACE_NAME, MEET_NAME] {
        secrets.push(Trace::Bytes(said.as_bytes().to_vec()));
    }
    let mut all = files(&data);
    assert!(all.iter().any(|(path, _)| path.ends_with("haurach.db")));
    all.push(("the server's log".into(), log.into_bytes()));
    for (path, bytes) in &all {
        if let Some((found, around)) = first_found(&secrets, bytes) {
            panic!("{path} holds {:?}: …{around}…", found.shown());
        }
    }
}

/// Places each of them kept on the server before the bond came to their device as the
/// bond turns private, and the server keeps none: hers as she invites, his as he
/// accepts (after a refused acceptance that leaves his where they were). Her device
/// then judges her old place as her own and tells him sealed.
#[test]
fn places_kept_before_a_bond_turns_private_move_to_the_devices_and_leave_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_on(&data, "127.0.0.1:0");
    let cli = Cli::new(&server);
    cli.register("spike", "east-about-20-km");
    cli.register("amethyst", "reaching-west-too");
    let add = |who: &str, name: &str, at: (f64, f64)| {
        let (lat, lon) = (at.0.to_string(), at.1.to_string());
        cli.ok_as(who, &["place", "add", name, &lat, &lon, "--radius", "80"]);
    };
    add("amethyst", PLACE_NAME, PLACE);
    add("spike", MEET_NAME, MEET);
    let db = data.join("haurach.db");
    let stored = || sql_text(&db, "SELECT group_concat(name, '|') FROM places");
    assert_eq!(sql_text(&db, "SELECT COUNT(*) FROM places"), "2");

    let out = cli.ok_as("amethyst", &["invite", "--private"]);
    assert!(
        out.contains(&format!(
            "your 1 place is kept on this device now: a private bond keeps no place on the \
             server, so it forgot it ({PLACE_NAME})"
        )),
        "{out}"
    );
    let code = private_code(&out);
    assert_eq!(stored(), MEET_NAME);

    // A refused acceptance (no such invite) changes nothing: his place stays on the
    // server and his plain commands work as before.
    let wrong = cli.fails(&["--as", "spike", "accept", &other_code(&code)]);
    assert!(
        wrong.contains("invite_not_found") || wrong.contains("no invite"),
        "{wrong}"
    );
    assert_eq!(stored(), MEET_NAME);
    let plain = cli.ok_as("spike", &["place", "list"]);
    assert!(plain.contains(MEET_NAME), "{plain}");

    let out = cli.ok_as("spike", &["accept", &code, "--profile", "story"]);
    assert!(
        out.contains(&format!("so it forgot it ({MEET_NAME})")),
        "{out}"
    );
    assert_eq!(sql_text(&db, "SELECT COUNT(*) FROM places"), "0");

    let hers = cli.ok_as("amethyst", &["place", "list"]);
    assert!(
        hers.contains("amethyst's places (kept on this device):"),
        "{hers}"
    );
    assert!(
        hers.contains(&format!(
            "{PLACE_NAME} — at -46.12155, -7.65157, radius 80 m"
        )),
        "{hers}"
    );
    let his = cli.ok_as("spike", &["place", "list"]);
    assert!(
        his.contains(&format!("{MEET_NAME} — at -46.21347, -7.66282")),
        "{his}"
    );

    // Her old place is hers on her device now: arriving there is told to him, sealed.
    mv(&cli, "amethyst", HER);
    mv(&cli, "spike", FAR);
    mv(&cli, "amethyst", PLACE);
    let heard = cli.ok_as("spike", &["place", "list"]);
    assert!(
        heard.contains(&format!(
            "{PLACE_NAME} — (where: within sight range); they are there"
        )),
        "{heard}"
    );
    assert_eq!(sql_text(&db, "SELECT COUNT(*) FROM places"), "0");
    server.kill();
}

/// Another well-formed private invite code than `code`.
fn other_code(code: &str) -> String {
    let secret = haurach_private::InviteSecret::generate();
    let other = haurach_private::invite::code(&secret);
    assert_ne!(other, code);
    other
}
