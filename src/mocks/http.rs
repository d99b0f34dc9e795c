//! The smallest HTTP/1.1 server that serves the HTTP mocks: one request per
//! connection (`Connection: close`), `Content-Length` request bodies, and
//! responses written by hand so a mock can delay the first byte, split an
//! SSE event across writes, or drop the socket mid-body. Written on plain
//! tokio rather than actix-web or hyper because that control over the wire
//! is the point of a protocol mock, and it needs no extra dependency.

use std::future::Future;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;

/// A parsed request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The writing side of one connection.
pub struct ResponseWriter {
    writer: OwnedWriteHalf,
}

impl ResponseWriter {
    /// A whole response with a body.
    pub async fn respond(
        &mut self,
        status: u16,
        content_type: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> io::Result<()> {
        let mut head = status_line(status);
        head.push_str(&format!(
            "content-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        ));
        finish_head(&mut head, headers);
        self.writer.write_all(head.as_bytes()).await?;
        self.writer.write_all(body).await?;
        self.writer.flush().await
    }

    pub async fn json(
        &mut self,
        status: u16,
        headers: &[(&str, String)],
        value: &serde_json::Value,
    ) -> io::Result<()> {
        self.respond(
            status,
            "application/json",
            headers,
            value.to_string().as_bytes(),
        )
        .await
    }

    /// Starts a `Transfer-Encoding: chunked` body.
    pub async fn start_chunked(&mut self, status: u16, content_type: &str) -> io::Result<()> {
        let mut head = status_line(status);
        head.push_str(&format!("content-type: {content_type}\r\ntransfer-encoding: chunked\r\nconnection: close\r\ncache-control: no-cache\r\n"));
        finish_head(&mut head, &[]);
        self.writer.write_all(head.as_bytes()).await?;
        self.writer.flush().await
    }

    /// One chunk of a chunked body, flushed at once.
    pub async fn chunk(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(()); // an empty chunk would end the body
        }
        let mut buf = Vec::with_capacity(bytes.len() + 12);
        buf.extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
        buf.extend_from_slice(bytes);
        buf.extend_from_slice(b"\r\n");
        self.writer.write_all(&buf).await?;
        self.writer.flush().await
    }

    pub async fn end_chunked(&mut self) -> io::Result<()> {
        self.writer.write_all(b"0\r\n\r\n").await?;
        self.writer.flush().await
    }
}

/// Watches the reading side for the client going away.
pub struct ClientWatch {
    reader: OwnedReadHalf,
}

impl ClientWatch {
    /// Resolves when the client closes its side: with one request per
    /// connection, EOF after the request means it hung up.
    pub async fn gone(&mut self) {
        let mut buf = [0u8; 256];
        loop {
            match self.reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // pipelined bytes: ignore
            }
        }
    }
}

fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    format!("HTTP/1.1 {status} {reason}\r\n")
}

fn finish_head(head: &mut String, headers: &[(&str, String)]) {
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
}

/// Accepts connections until `shutdown` turns true; each request goes to
/// `handler` on its own task.
pub async fn serve<H, F>(listener: TcpListener, mut shutdown: watch::Receiver<bool>, handler: H)
where
    H: Fn(Request, ResponseWriter, ClientWatch) -> F + Send + Sync + Clone + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    loop {
        let mut stop = shutdown.clone();
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let handler = handler.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = connection(stream, handler) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                });
            }
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

async fn connection<H, F>(stream: TcpStream, handler: H)
where
    H: Fn(Request, ResponseWriter, ClientWatch) -> F,
    F: Future<Output = ()>,
{
    // Mocks stream small events; Nagle would merge what a test wants split.
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let mut writer = ResponseWriter { writer };
    match read_request(&mut reader).await {
        Ok(req) => handler(req, writer, ClientWatch { reader }).await,
        Err(RequestError::Io) => {}
        Err(RequestError::Bad(status, why)) => {
            let _ = writer
                .respond(status, "text/plain", &[], why.as_bytes())
                .await;
        }
    }
}

enum RequestError {
    Io,
    Bad(u16, &'static str),
}

async fn read_request(reader: &mut OwnedReadHalf) -> Result<Request, RequestError> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(RequestError::Bad(400, "request head too large"));
        }
        let mut tmp = [0u8; 4096];
        let n = reader.read(&mut tmp).await.map_err(|_| RequestError::Io)?;
        if n == 0 {
            return Err(RequestError::Io);
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let mut req = parse_head(&buf[..head_end])?;
    let len = match req.header("content-length") {
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| RequestError::Bad(400, "bad content-length"))?,
        None if req.header("transfer-encoding").is_some() => {
            return Err(RequestError::Bad(411, "send content-length"))
        }
        None => 0,
    };
    if len > MAX_BODY {
        return Err(RequestError::Bad(413, "body too large"));
    }
    let mut body = buf.split_off(head_end + 4);
    while body.len() < len {
        let mut tmp = vec![0u8; (len - body.len()).min(64 * 1024)];
        let n = reader.read(&mut tmp).await.map_err(|_| RequestError::Io)?;
        if n == 0 {
            return Err(RequestError::Io);
        }
        body.extend_from_slice(&tmp[..n]);
    }
    body.truncate(len);
    req.body = body;
    Ok(req)
}

fn parse_head(head: &[u8]) -> Result<Request, RequestError> {
    let head =
        std::str::from_utf8(head).map_err(|_| RequestError::Bad(400, "head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target)) = (first.next(), first.next()) else {
        return Err(RequestError::Bad(400, "bad request line"));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: Vec::new(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
