//! `haurach-pg`: a throwaway PostgreSQL cluster for a script (`scripts/fuzz-api`). Prints
//! the cluster's URL on a line of its own, then keeps the cluster until its standard input
//! closes, and stops it.

use std::io::{Read, Write};

fn main() {
    let cluster = match haurach_testkit::PgCluster::start() {
        Ok(cluster) => cluster,
        Err(missing) => {
            eprintln!("haurach-pg: {missing}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", cluster.url()).expect("write the URL");
    out.flush().expect("flush the URL");
    drop(out);
    // Whatever arrives is ignored: the end of the input is the signal to stop.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(cluster);
}
