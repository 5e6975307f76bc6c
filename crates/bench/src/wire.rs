//! Minimal clients for the two protocols the benchmark speaks: WebSocket (RFC 6455) for
//! Haurach's live link and MQTT 3.1.1 for Mosquitto. Hand-written on a plain `TcpStream`
//! because library clients cost as much CPU as the servers they measure
//! (../shared/BENCHMARKING.md): the load generator must not be the bottleneck.
//!
//! Both speak only what the workload needs: text frames and QoS 0 publishes.

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects to Haurach's live link and completes the WebSocket handshake.
pub async fn ws_connect(addr: std::net::SocketAddr, token: &str) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.context("connect")?;
    stream.set_nodelay(true)?;
    let req = format!(
        "GET /api/v1/link HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    // Read the response head byte by byte: it is short, and the first frame may follow it.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        let b = stream.read_u8().await.context("handshake")?;
        head.push(b);
        if head.len() > 4096 {
            bail!("handshake response too long");
        }
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        bail!("no upgrade: {}", String::from_utf8_lossy(&head));
    }
    Ok(stream)
}

/// Appends a masked client text frame to `out`. The mask key is zero, which RFC 6455
/// allows a non-browser client and which spares XOR-ing the payload.
pub fn ws_text(out: &mut Vec<u8>, payload: &[u8]) {
    out.push(0x81);
    let n = payload.len();
    if n < 126 {
        out.push(0x80 | n as u8);
    } else if n <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

/// Splits complete server frames off the front of `buf`, calling `on_text` for each text
/// frame's payload. Returns false when the server closed the link.
pub fn ws_frames(buf: &mut Vec<u8>, mut on_text: impl FnMut(&[u8])) -> bool {
    let mut at = 0;
    let mut open = true;
    loop {
        let rest = &buf[at..];
        if rest.len() < 2 {
            break;
        }
        let opcode = rest[0] & 0x0F;
        let (len, header) = match rest[1] & 0x7F {
            126 if rest.len() >= 4 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 if rest.len() >= 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            126 | 127 => break,
            n => (n as usize, 2),
        };
        if rest.len() < header + len {
            break;
        }
        let payload = &rest[header..header + len];
        match opcode {
            0x1 => on_text(payload),
            0x8 => open = false,
            _ => {}
        }
        at += header + len;
    }
    buf.drain(..at);
    open
}

fn mqtt_remaining(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            break;
        }
    }
}

fn mqtt_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// Connects to an MQTT broker as `client_id` and subscribes to `topic` at QoS 0.
pub async fn mqtt_connect(
    addr: std::net::SocketAddr,
    client_id: &str,
    topic: &str,
) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.context("connect")?;
    stream.set_nodelay(true)?;
    let mut body = Vec::new();
    mqtt_str(&mut body, b"MQTT");
    body.push(4); // protocol level 3.1.1
    body.push(0x02); // clean session
    body.extend_from_slice(&0u16.to_be_bytes()); // no keep-alive
    mqtt_str(&mut body, client_id.as_bytes());
    let mut packet = vec![0x10];
    mqtt_remaining(&mut packet, body.len());
    packet.extend_from_slice(&body);
    stream.write_all(&packet).await?;
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).await.context("connack")?;
    if connack[0] != 0x20 || connack[3] != 0 {
        bail!("connection refused: {connack:?}");
    }
    let mut body = vec![0, 1]; // packet id 1
    mqtt_str(&mut body, topic.as_bytes());
    body.push(0); // QoS 0
    let mut packet = vec![0x82];
    mqtt_remaining(&mut packet, body.len());
    packet.extend_from_slice(&body);
    stream.write_all(&packet).await?;
    let mut suback = [0u8; 5];
    stream.read_exact(&mut suback).await.context("suback")?;
    if suback[0] != 0x90 || suback[4] == 0x80 {
        bail!("subscription refused: {suback:?}");
    }
    Ok(stream)
}

/// Appends a QoS 0 PUBLISH of `payload` to `topic`.
pub fn mqtt_publish(out: &mut Vec<u8>, topic: &[u8], payload: &[u8]) {
    out.push(0x30);
    mqtt_remaining(out, 2 + topic.len() + payload.len());
    mqtt_str(out, topic);
    out.extend_from_slice(payload);
}

/// Splits complete packets off the front of `buf`, calling `on_publish` for each PUBLISH.
pub fn mqtt_packets(buf: &mut Vec<u8>, mut on_publish: impl FnMut(&[u8])) {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        if rest.len() < 2 {
            break;
        }
        let (mut len, mut mult, mut i) = (0usize, 1usize, 1usize);
        let complete_header = loop {
            if i >= rest.len() || i > 4 {
                break false;
            }
            let b = rest[i];
            len += usize::from(b & 0x7F) * mult;
            mult *= 128;
            i += 1;
            if b & 0x80 == 0 {
                break true;
            }
        };
        if !complete_header || rest.len() < i + len {
            break;
        }
        if rest[0] & 0xF0 == 0x30 {
            let packet = &rest[i..i + len];
            let topic_len = usize::from(u16::from_be_bytes([packet[0], packet[1]]));
            on_publish(&packet[2 + topic_len..]);
        }
        at += i + len;
    }
    buf.drain(..at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_frames_split_across_reads_are_reassembled() {
        // Two unmasked server text frames, one short and one with a 16-bit length.
        let long = vec![b'x'; 300];
        let mut wire = vec![0x81, 5];
        wire.extend_from_slice(b"hello");
        wire.extend_from_slice(&[0x81, 126, 0x01, 0x2C]);
        wire.extend_from_slice(&long);
        let mut seen = Vec::new();
        let mut buf = wire[..10].to_vec();
        assert!(ws_frames(&mut buf, |p| seen.push(p.to_vec())));
        assert_eq!(seen, vec![b"hello".to_vec()]);
        buf.extend_from_slice(&wire[10..]);
        assert!(ws_frames(&mut buf, |p| seen.push(p.to_vec())));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1], long);
        assert!(buf.is_empty());
        assert!(!ws_frames(&mut vec![0x88, 0], |_| {}), "close is seen");
    }

    #[test]
    fn mqtt_publishes_round_trip_through_the_parser() {
        let mut wire = Vec::new();
        mqtt_publish(&mut wire, b"owntracks/a/phone", &[b'p'; 200]);
        mqtt_publish(&mut wire, b"t", b"two");
        let mut seen = Vec::new();
        let mut buf = wire[..50].to_vec();
        mqtt_packets(&mut buf, |p| seen.push(p.len()));
        assert!(seen.is_empty());
        buf.extend_from_slice(&wire[50..]);
        mqtt_packets(&mut buf, |p| seen.push(p.len()));
        assert_eq!(seen, vec![200, 3]);
    }
}
