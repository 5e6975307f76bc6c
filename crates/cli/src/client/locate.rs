//! `haurach locate`: "where are you now?". Opens the live link first (so the answer
//! cannot pass before it listens), asks the partner, then waits for their next position
//! to arrive as a `pull` and prints how far and which way, and how fresh while the
//! feelings tier is open; or says it asked and no answer came yet.

use std::time::Duration;

use futures_util::StreamExt;
use haurach_proto::{Mover, ServerFrame};
use reqwest::Method;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::api::Api;
use super::link::{ConnectError, close, connect};
use super::show;

/// `haurach locate`: asks, then waits up to `wait` for the answer.
pub async fn run(api: &Api, token: &str, wait: Duration) -> anyhow::Result<()> {
    let mut socket = match connect(api.base(), token, None).await {
        Ok(socket) => socket,
        Err(ConnectError::Fatal(e)) => return Err(e),
        Err(ConnectError::Transient(why)) => anyhow::bail!("{why}"),
    };
    // The hello names the partner (and says whether there is one).
    let partner = loop {
        match next_frame(&mut socket).await? {
            Some(ServerFrame::Hello { bond, .. }) => match bond {
                Some(b) => break b.partner,
                None => anyhow::bail!(
                    "you have no partner yet: make an invite or accept your partner's"
                ),
            },
            Some(_) => continue,
            None => anyhow::bail!("the link closed before it said hello"),
        }
    };
    api.empty(Method::POST, "/api/v1/bond/locate", None).await?;
    outln!(
        "asked {partner} where they are now; waiting up to {} s",
        wait.as_secs()
    );
    let deadline = Instant::now() + wait;
    let answer = loop {
        match tokio::time::timeout_at(deadline, next_frame(&mut socket)).await {
            Err(_) | Ok(Ok(None)) => break None,
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Some(ServerFrame::Pull {
                moved: Mover::Partner,
                pull,
                strength,
                next_tier,
            }))) => {
                break Some(show::answer_sentence(
                    &partner,
                    &pull,
                    strength,
                    next_tier.as_ref(),
                ));
            }
            Ok(Ok(Some(_))) => continue,
        }
    };
    close(&mut socket).await;
    match answer {
        Some(line) => outln!("{line}"),
        None => outln!(
            "no answer from {partner} yet: their page answers when it is open, their OwnTracks app at its next post (haurach where shows the latest)"
        ),
    }
    Ok(())
}

/// The next server frame, skipping what is not one; `None` when the link closed.
async fn next_frame(socket: &mut super::link::Socket) -> anyhow::Result<Option<ServerFrame>> {
    while let Some(msg) = socket.next().await {
        match msg? {
            WsMessage::Text(text) => {
                if let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) {
                    return Ok(Some(frame));
                }
            }
            WsMessage::Close(_) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}
