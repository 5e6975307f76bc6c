//! Two nodes serving one city, on a real PostgreSQL and a real NATS server: partners on
//! different nodes see what they would see on one, and a node killed with SIGKILL loses
//! nothing and doubles nothing.

use std::time::Duration;

use haurach_testkit::{NatsServer, PgCluster, or_skip};

use crate::support::{Balancer, Cli, Server, invite_code, message_lines};

const WAIT: Duration = Duration::from_secs(20);

fn node(pg: &PgCluster, nats: &NatsServer, dir: &tempfile::TempDir, name: &str) -> Server {
    Server::start_with(
        &dir.path().join(name),
        "127.0.0.1:0",
        &[
            ("HAURACH_DATABASE_URL", &pg.url()),
            ("HAURACH_NATS_URL", &nats.url()),
            ("HAURACH_CONTACT_TIMEOUT_S", "4"),
        ],
    )
}

#[test]
fn partners_on_two_nodes_walk_together_and_a_killed_node_loses_nothing() {
    let Some(pg) = or_skip(PgCluster::start()) else {
        return;
    };
    let Some(nats) = or_skip(NatsServer::start()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut node1 = node(&pg, &nats, &dir, "one");
    let node2 = node(&pg, &nats, &dir, "two");
    // Spike reaches the city through a balancer that prefers node 1; Amethyst is on
    // node 2.
    let balancer = Balancer::start(&[&node1.addr, &node2.addr]);
    let spike = Cli {
        home: tempfile::tempdir().unwrap(),
        server: balancer.url.clone(),
    };
    let amethyst = Cli::new(&node2);
    spike.register("spike", "east-about-20-km");
    amethyst.register("amethyst", "reaching-west-too");
    let code = invite_code(&spike.ok(&["invite"]));
    let out = amethyst.ok(&["accept", &code, "--profile", "city"]);
    assert!(out.contains("bonded with spike (city profile)"), "{out}");

    // 2 km apart, each on their own node.
    spike.ok(&["move", "23.1330", "53.7700"]);
    amethyst.ok(&["move", "23.1330", "53.7900"]);
    let mut spike_watch = spike.spawn(&["watch", "--for", "60"]);
    spike_watch.expect("linked as spike", WAIT);
    let mut amethyst_watch = amethyst.spawn(&["watch", "--for", "60"]);
    amethyst_watch.expect("linked as amethyst", WAIT);

    // Amethyst walks to 600 m on node 2; Spike, on node 1, sees the tiers open in order
    // and the pull, exactly as on one node.
    amethyst.ok(&["move", "23.1330", "53.7800"]);
    amethyst.ok(&["move", "23.1330", "53.7759"]);
    spike_watch.expect("feelings opened (within 1.0 km)", WAIT);
    spike_watch.expect("voice opened (within 850 m)", WAIT);
    spike_watch.expect("thoughts opened (within 800 m)", WAIT);
    spike_watch.expect("images opened (within 750 m)", WAIT);
    spike_watch.expect("amethyst is east, 600 m away", WAIT);
    amethyst_watch.expect("images opened (within 750 m)", WAIT);
    // Spike steps closer on node 1; Amethyst sees him come.
    spike.ok(&["move", "23.1330", "53.7710"]);
    amethyst_watch.expect("spike is west, 500 m away", WAIT);

    // Messages both ways.
    spike.ok(&["say", "hello from node one"]);
    amethyst_watch.expect("spike: hello from node one", WAIT);
    amethyst.ok(&["say", "hello from node two"]);
    spike_watch.expect("amethyst: hello from node two", WAIT);

    // Node 1 dies. Spike's watch reconnects through the balancer, to node 2.
    node1.kill();
    amethyst.ok(&["say", "while you were away"]);
    spike_watch.expect("amethyst: while you were away", WAIT);
    spike.ok(&["say", "back, on node two"]);
    amethyst_watch.expect("spike: back, on node two", WAIT);
    spike_watch.expect("you: back, on node two", WAIT);
    // Spike's watch, across the failover, showed each message once, in order.
    let live: Vec<String> = message_lines(&spike_watch.seen)
        .iter()
        .map(|l| l.split_once(' ').unwrap().1.to_owned())
        .collect();

    // Nothing lost, nothing doubled, in the same order for both.
    let (_, lines, _) = spike
        .spawn(&["watch", "--after", "0", "--for", "2"])
        .finish();
    let expected = [
        "you: hello from node one",
        "amethyst: hello from node two",
        "amethyst: while you were away",
        "you: back, on node two",
    ];
    let texts: Vec<String> = message_lines(&lines)
        .iter()
        .map(|l| l.split_once(' ').unwrap().1.to_owned())
        .collect();
    assert_eq!(texts, expected);
    assert_eq!(live, expected);
    drop(spike_watch);

    // Contact follows Spike across nodes: his links are gone, so node 2 tells Amethyst
    // he is lost; when he links again (to node 2), that he is back.
    amethyst_watch.expect("contact with spike lost", WAIT);
    let mut again = spike.spawn(&["watch", "--for", "30"]);
    again.expect("linked as spike", WAIT);
    amethyst_watch.expect("contact with spike restored", WAIT);
}
