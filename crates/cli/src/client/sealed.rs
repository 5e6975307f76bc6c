//! Content sealed end to end in a private bond, on this device (issue 20,
//! `docs/privacy.md`): words, feelings, an alarm's words and thoughts are sealed before
//! they leave it, and what the partner sealed is opened here before it is shown. The server carries
//! only the sealed strings (`haurach_proto::sealed`).

use std::path::PathBuf;

use haurach_private::{Role, Sealer};
use haurach_proto::sealed::Envelope;
use haurach_proto::{BondView, Feeling, Message, MessageKind};
use uuid::Uuid;

use super::api::Api;
use super::context::Context;
use super::private::{self, Standing};

/// What this device needs to seal and open in its private bond.
pub struct Sealing {
    sealer: Sealer,
    bond: Uuid,
    me: Role,
    /// Where the counter is kept: the home directory, the server and the person.
    keys: (PathBuf, String, String),
}

impl Sealing {
    /// The sealing of `name`'s bond on this device: `None` when the bond is plain. Fails
    /// when the partner's device has not confirmed the keys (nothing may be sealed yet)
    /// or the keys do not match.
    pub async fn of(ctx: &Context, name: &str, api: &Api) -> anyhow::Result<Option<Sealing>> {
        let key = match private::standing(ctx, name, api).await? {
            Standing::Plain => return Ok(None),
            Standing::Waiting => anyhow::bail!(
                "your partner's device has not confirmed the bond's keys yet: nothing was sent \
                 (it confirms the next time they use haurach)"
            ),
            Standing::Confirmed(key) => key,
        };
        let view: BondView = api.get("/api/v1/bond").await?;
        Ok(Some(Sealing {
            sealer: Sealer::new(&key),
            bond: view.id,
            me: private::role(ctx, name)?,
            keys: (ctx.home.clone(), ctx.server.clone(), name.to_owned()),
        }))
    }

    fn envelope<'a>(&self, mine: bool, kind: &'a str) -> Envelope<'a> {
        Envelope {
            bond: self.bond,
            from: if mine { self.me } else { self.me.other() },
            kind,
        }
    }

    /// Seals `content` as this device's next sealed thing of `kind`.
    pub fn seal(&self, kind: &str, content: &[u8]) -> anyhow::Result<String> {
        let (home, server, name) = &self.keys;
        let counter = private::next_counter(home, server, name)?;
        Ok(self
            .envelope(true, kind)
            .seal(&self.sealer, counter, content)?)
    }

    /// Opens what was sealed in this bond, by this device (`mine`) or the partner's: the
    /// sender's counter and the content; `None` when it does not open (changed on the
    /// way, or not of this bond).
    pub fn open(&self, mine: bool, kind: &str, text: &str) -> Option<(u64, Vec<u8>)> {
        self.envelope(mine, kind).open(&self.sealer, text).ok()
    }

    /// A message with its sealed content opened into `body` or `feeling`, as a plain
    /// bond's would be; one that does not open says so in its body.
    pub fn open_message(&self, me: &str, message: &Message) -> Message {
        let Some(text) = &message.sealed else {
            return message.clone();
        };
        let mine = message.from.eq_ignore_ascii_case(me);
        let mut opened = message.clone();
        opened.sealed = None;
        match self.open(mine, message.kind.key(), text) {
            Some((_, content)) => {
                let content = String::from_utf8_lossy(&content).into_owned();
                match message.kind {
                    MessageKind::Feeling => opened.feeling = Feeling::from_key(&content),
                    _ => opened.body = Some(content),
                }
            }
            None => opened.body = Some(UNOPENABLE.to_owned()),
        }
        opened
    }
}

/// What is shown in place of sealed content that does not open.
pub const UNOPENABLE: &str = "(sealed, and it does not open: it was changed on the way)";
