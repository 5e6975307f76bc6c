//! A city on several nodes, as the NATS server sees it: each node receives the traffic of
//! the people whose links it holds, and lets go of a bond once nobody there needs it.

use std::net::SocketAddr;
use std::time::Duration;

use haurach_proto::{ClientFrame, ContactState, MessageKind, Mover, SendMessage, ServerFrame};
use haurach_testkit::{NatsServer, PgCluster, or_skip};

use crate::common::{TestServer, http, two_nodes, two_nodes_with};

/// Each node's NATS connection, in the order the nodes connected: messages the server
/// sent it, and its subscriptions.
async fn connections(nats: &NatsServer) -> Vec<(u64, Vec<String>)> {
    let addr: SocketAddr = nats
        .monitor_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let (status, connz) = http(addr, "GET", "/connz?subs=1&sort=cid", None, None).await;
    assert_eq!(status, 200, "{connz}");
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let subs = c["subscriptions_list"]
                .as_array()
                .map(|l| l.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            (c["out_msgs"].as_u64().unwrap(), subs)
        })
        .collect()
}

/// Messages NATS has sent all the nodes together.
async fn sent_to_nodes(nats: &NatsServer) -> u64 {
    connections(nats).await.iter().map(|(sent, _)| sent).sum()
}

#[tokio::test]
async fn each_node_receives_only_what_its_own_links_need() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let Some(nats) = or_skip(NatsServer::start()) else {
        return;
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let (db, bus) = (pg.url(), nats.url());
        nodes.push(
            TestServer::start_with(move |c| {
                c.database_url = Some(db);
                c.nats_url = Some(bus);
                c.contact_timeout_s = 1.0;
                // Each event at once: the path of a node that does not batch (the other
                // two-node tests run at the default, 10 ms).
                c.nats_batch_ms = 0.0;
            })
            .await,
        );
    }
    let [one, two, three] = &nodes[..] else {
        unreachable!()
    };
    let (amethyst, spike) = one.pair("amethyst", "spike", "city").await;
    let (twilight, rarity) = one.pair("twilight", "rarity", "city").await;
    for (who, lat) in [(&amethyst, 30.0), (&spike, 30.01), (&twilight, 31.0)] {
        one.put_position(who, lat, 31.0).await;
    }
    one.put_position(&rarity, 31.01, 31.0).await;

    // Amethyst and Spike are both on node one; Twilight is on node two, Rarity on three.
    let mut links = Vec::new();
    for (node, who) in [
        (one, &amethyst),
        (one, &spike),
        (two, &twilight),
        (three, &rarity),
    ] {
        let mut link = node.link(who, None).await;
        link.until(|f| matches!(f, ServerFrame::Hello { .. })).await;
        links.push(link);
    }
    let before = connections(&nats).await;
    assert_eq!(before.len(), 3, "one connection per node: {before:?}");
    // Which connection is which node, by what each listens to now: node one holds both
    // partners' links of the first pair (two account subjects), the others one each. The
    // order of the NATS server's connection ids need not be the nodes' (a node that
    // reconnected comes last).
    let one_at = before
        .iter()
        .position(|(_, subs)| {
            subs.iter()
                .filter(|s| s.starts_with("haurach.acct."))
                .count()
                == 2
        })
        .unwrap_or_else(|| panic!("node one's connection: {before:?}"));
    let others: Vec<usize> = (0..3).filter(|i| *i != one_at).collect();

    // Forty moves between the two on node one: nothing of it needs another node.
    for i in 0..40 {
        one.put_position(&amethyst, 30.0 + f64::from(i) * 1e-4, 31.0)
            .await;
    }
    let last = 30.0 + 39.0 * 1e-4;
    links[1]
        .until(|f| match f {
            ServerFrame::Pull {
                moved: Mover::Partner,
                pull,
                ..
            } => (pull.distance_m - (30.01 - last) * 111_000.0).abs() < 200.0,
            _ => false,
        })
        .await;
    // And twenty words, which every node once heard twice (one frame per partner).
    for i in 0..20 {
        links[0]
            .send(&ClientFrame::Send(SendMessage {
                kind: MessageKind::Voice,
                id: format!("v{i}"),
                body: Some(format!("word {i}")),
                feeling: None,
                sealed: None,
            }))
            .await;
    }
    links[1]
        .until(|f| matches!(f, ServerFrame::Message { message } if message.body.as_deref() == Some("word 19")))
        .await;
    // Twilight moving on node two still reaches Rarity on node three.
    two.put_position(&twilight, 31.005, 31.0).await;
    links[3]
        .until(|f| {
            matches!(
                f,
                ServerFrame::Pull {
                    moved: Mover::Partner,
                    ..
                }
            )
        })
        .await;

    let after = connections(&nats).await;
    let received = |node: usize| after[node].0 - before[node].0;
    // With every node on the wildcards, nodes two and three each received every fix of
    // the forty moves and every frame of the twenty words (more than 80 messages).
    assert!(
        received(others[0]) < 10 && received(others[1]) < 10,
        "nodes two and three received {} and {} messages while the partners on node one \
         moved forty times and spoke twenty words",
        received(others[0]),
        received(others[1])
    );

    // Once their links close, node one lets go of the bond within a few contact timeouts
    // (it has told each that the other was lost first).
    for link in links.drain(..2) {
        link.close().await;
    }
    let mut subs = Vec::new();
    for _ in 0..100 {
        subs = connections(&nats).await[one_at].1.clone();
        if subs == ["haurach.city"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        subs,
        ["haurach.city"],
        "what node one still listens to (all connections before: {before:?})"
    );
    // Nodes two and three keep what their links need.
    let now = connections(&nats).await;
    assert_eq!(
        now[others[0]].1.len(),
        3,
        "node two: {:?}",
        now[others[0]].1
    );
}

/// Someone talking on one node is someone heard: the other node is told so at most once a
/// sweep, not once a word, and still knows the moment they fell silent: it counts them
/// lost no sooner than the contact timeout after their last word.
#[tokio::test]
async fn a_person_talking_is_heard_on_the_other_node_once_a_sweep_and_lost_on_time() {
    const TIMEOUT_S: f64 = 3.0;
    let Some(nodes) = two_nodes_with(|c| c.contact_timeout_s = TIMEOUT_S).await else {
        return;
    };
    let (one, two, nats) = (&nodes.one, &nodes.two, &nodes.nats);
    let (amethyst, spike) = one.pair("amethyst", "spike", "open").await;
    one.put_position(&amethyst, 30.0, 31.0).await;
    one.put_position(&spike, 30.0, 31.001).await;
    let mut hers = one.link(&amethyst, None).await;
    hers.until(|f| matches!(f, ServerFrame::Hello { .. })).await;
    let mut his = two.link(&spike, None).await;
    his.until(|f| matches!(f, ServerFrame::Hello { .. })).await;
    let before = sent_to_nodes(nats).await;

    // Forty words over two seconds: most of what says she is there is held back.
    const WORDS: u64 = 40;
    let mut last_word = std::time::Instant::now();
    for i in 0..WORDS {
        hers.send(&ClientFrame::Send(SendMessage {
            kind: MessageKind::Voice,
            id: format!("w{i}"),
            body: Some(format!("word {i}")),
            feeling: None,
            sealed: None,
        }))
        .await;
        last_word = std::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut heard_words, mut last_sent_ms) = (0, 0);
    his.until(|f| {
        if let ServerFrame::Message { message } = f {
            heard_words += 1;
            last_sent_ms = (message.sent_at.unix_timestamp_nanos() / 1_000_000) as i64;
        }
        heard_words == WORDS
    })
    .await;
    // Each word crossed once (to his node); that she was heard, a few times (once a
    // sweep of 0.75 s while she talked, and once after).
    let crossed = sent_to_nodes(nats).await - before;
    assert!(
        (WORDS..WORDS + 10).contains(&crossed),
        "NATS sent the nodes {crossed} messages for {WORDS} words"
    );
    // She falls silent: his node counts her lost, having heard her last word (a moment
    // before it was stored), and not before the timeout is up.
    let mut since = None;
    his.until(|f| match f {
        ServerFrame::Contact {
            who,
            state: ContactState::Lost,
            last_heard_ms,
            ..
        } if who == "amethyst" => {
            since = *last_heard_ms;
            true
        }
        _ => false,
    })
    .await;
    let silent = last_word.elapsed().as_secs_f64();
    let since = since.expect("when she was last heard");
    assert!(
        (last_sent_ms - 100..=last_sent_ms).contains(&since),
        "his node last heard her at {since}, her last word was stored at {last_sent_ms}"
    );
    assert!(
        silent >= TIMEOUT_S,
        "his node counted her lost {silent:.2} s after her last word"
    );
}

#[tokio::test]
async fn nodes_that_batch_what_they_share_still_pass_every_move_and_word_in_order() {
    let Some(nodes) = two_nodes_with(|c| c.nats_batch_ms = 20.0).await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let (amethyst, spike) = one.pair("amethyst", "spike", "city").await;
    // Within voice's range from the start (the city profile's 850 m).
    one.put_position(&spike, 30.0, 31.0).await;
    let mut hers = one.link(&amethyst, None).await;
    hers.until(|f| matches!(f, ServerFrame::Hello { .. })).await;
    let mut his = two.link(&spike, None).await;
    his.until(|f| matches!(f, ServerFrame::Hello { .. })).await;

    // Thirty moves toward him, each closer, and twenty words between them: many fall in
    // one batch of 20 ms.
    for i in 0..30 {
        one.put_position(&amethyst, 30.006 - f64::from(i) * 1e-4, 31.0)
            .await;
        if i % 3 == 0 {
            hers.send(&ClientFrame::Send(SendMessage {
                kind: MessageKind::Voice,
                id: format!("v{}", i / 3),
                body: Some(format!("word {}", i / 3)),
                feeling: None,
                sealed: None,
            }))
            .await;
        }
    }
    // His node told him of her moves only ever closer (none out of order), up to the
    // last, and of every word in order.
    let last_m = (0.006 - 29.0 * 1e-4) * 110_860.0;
    let (mut distances, mut words) = (Vec::new(), Vec::new());
    his.until(|f| {
        match f {
            ServerFrame::Pull {
                moved: Mover::Partner,
                pull,
                ..
            } => distances.push(pull.distance_m),
            ServerFrame::Message { message } => words.extend(message.body.clone()),
            _ => {}
        }
        words.len() == 10 && distances.last().is_some_and(|d| (d - last_m).abs() < 10.0)
    })
    .await;
    assert!(
        distances.windows(2).all(|w| w[1] <= w[0]),
        "her moves as his node told them: {distances:?}"
    );
    let expected: Vec<String> = (0..10).map(|i| format!("word {i}")).collect();
    assert_eq!(words, expected);
}

/// Both partners talking at once, each on their own node: each one's own message, told
/// by their own node at once, overtakes the partner's, which crosses NATS. Each still
/// hears every word once and in order, and the link waits the moment the partner's
/// takes to come rather than reading the store for it.
#[tokio::test]
async fn partners_talking_at_once_on_two_nodes_hear_every_word_in_order_without_reading_the_store()
{
    // What crosses waits up to 10 ms for a batch, so the partner's message is overtaken
    // by one's own nearly every time.
    let Some(nodes) = two_nodes_with(|c| c.nats_batch_ms = 10.0).await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let (amethyst, spike) = one.pair("amethyst", "spike", "open").await;
    let mut hers = one.link(&amethyst, None).await;
    hers.until(|f| matches!(f, ServerFrame::Hello { .. })).await;
    let mut his = two.link(&spike, None).await;
    his.until(|f| matches!(f, ServerFrame::Hello { .. })).await;
    let voice = |id: String, body: &str| {
        ClientFrame::Send(SendMessage {
            kind: MessageKind::Voice,
            id,
            body: Some(body.to_owned()),
            feeling: None,
            sealed: None,
        })
    };
    const EACH: usize = 40;
    for i in 0..EACH {
        hers.send(&voice(format!("a{i}"), "from amethyst")).await;
        his.send(&voice(format!("s{i}"), "from spike")).await;
    }
    for link in [&mut hers, &mut his] {
        let mut seqs = Vec::new();
        link.until(|f| {
            if let ServerFrame::Message { message } = f {
                seqs.push(message.seq);
            }
            seqs.len() == 2 * EACH
        })
        .await;
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "every word once, in order: {seqs:?}"
        );
    }
    // A message that took over 50 ms to cross is read from the store: one may, on a busy
    // machine. Without the wait the links read it 7 to 14 times for 40 words each (a
    // read takes every message missing at once).
    let mut reads = 0.0;
    for node in [one, two] {
        let text = crate::metrics::scrape(node).await;
        reads += crate::metrics::must(&text, "haurach_links_store_reads_total");
    }
    assert!(reads < 4.0, "the links read the store {reads} times");
}

/// A stretch is judged by the node that heard the fix, from the mover's last fix wherever
/// it was heard, and told once. Her link is on node one; his first fixes reach node two,
/// whose copy of the bond judges them, and node one's copy only keeps them; his jump then
/// comes through node one, which judges it from the fix it kept.
#[tokio::test]
async fn a_jump_is_judged_from_the_last_fix_heard_on_another_node_and_told_once() {
    let Some(nodes) = two_nodes().await else {
        return;
    };
    let (one, two) = (&nodes.one, &nodes.two);
    let (amethyst, spike) = one.pair("amethyst", "spike", "open").await;
    one.put_position(&amethyst, 30.0, 31.0).await;
    let mut hers = one.link(&amethyst, None).await;
    hers.until(|f| matches!(f, ServerFrame::Hello { .. })).await;
    two.put_position(&spike, 30.0, 31.01).await;
    two.put_position(&spike, 30.0, 31.011).await; // a walker's step, on node two
    // 1,061 m apart, as her node tells it.
    hers.until(|f| {
        matches!(f, ServerFrame::Pull { moved: Mover::Partner, pull, .. }
            if (pull.distance_m - 1_061.0).abs() < 1.0)
    })
    .await;

    one.put_position(&spike, 30.5, 31.011).await; // 55 km in an instant, on node one
    let ServerFrame::Stretch { who, jump_m, .. } = hers
        .until(|f| matches!(f, ServerFrame::Stretch { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(who, "spike");
    assert!(jump_m > 50_000.0, "judged from his last fix: {jump_m} m");

    // His next step is no stretch, and nobody tells of the jump again: up to the pull
    // of that step (the second from 55 km away), no other stretch comes.
    one.put_position(&spike, 30.5, 31.012).await;
    let (mut stretches, mut far) = (0, 0);
    hers.until(|f| {
        stretches += usize::from(matches!(f, ServerFrame::Stretch { .. }));
        far += usize::from(
            matches!(f, ServerFrame::Pull { moved: Mover::Partner, pull, .. }
            if pull.distance_m > 50_000.0),
        );
        far == 2
    })
    .await;
    assert_eq!(stretches, 0, "the jump was told more than once");
}
