//! A minimal async Redis client (RESP2) over `async_std::net::TcpStream`, for the async-std
//! adapter's tests: the `redis` crate's 1.x line has no async-std support.

use async_std::io::{BufReader, prelude::BufReadExt};
use async_std::net::TcpStream;
use async_std::prelude::*;
use std::io;

/// A reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `:42`
    Integer(i64),
    /// `$3\r\nabc` (`None` for `$-1`)
    Bulk(Option<Vec<u8>>),
    /// `*2 ...` (`None` for `*-1`)
    Array(Option<Vec<Reply>>),
}

/// One connection to Redis.
#[derive(Debug)]
pub struct RespConnection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RespConnection {
    /// Connects to `host:port`.
    ///
    /// # Errors
    ///
    /// The connect error.
    pub async fn connect(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            reader: BufReader::new(stream.clone()),
            writer: stream,
        })
    }

    /// Sends one command and reads its reply; a server error (`-ERR ...`) is an
    /// `io::Error` of kind `Other`, a closed connection `UnexpectedEof`.
    ///
    /// # Errors
    ///
    /// I/O errors, protocol errors and server errors.
    pub async fn command(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out).await?;
        self.read_reply().await
    }

    async fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }

    fn read_reply(
        &mut self,
    ) -> std::pin::Pin<Box<dyn Future<Output = io::Result<Reply>> + Send + '_>> {
        Box::pin(async move {
            let line = self.line().await?;
            let (kind, rest) = line.split_at(line.len().min(1));
            let number = || {
                rest.parse::<i64>()
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, line.clone()))
            };
            match kind {
                "+" => Ok(Reply::Status(rest.to_owned())),
                "-" => Err(io::Error::other(rest.to_owned())),
                ":" => Ok(Reply::Integer(number()?)),
                "$" => {
                    let Ok(len) = usize::try_from(number()?) else {
                        return Ok(Reply::Bulk(None));
                    };
                    let mut buf = vec![0; len + 2];
                    self.reader.read_exact(&mut buf).await?;
                    buf.truncate(len);
                    Ok(Reply::Bulk(Some(buf)))
                }
                "*" => {
                    let Ok(n) = usize::try_from(number()?) else {
                        return Ok(Reply::Array(None));
                    };
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.read_reply().await?);
                    }
                    Ok(Reply::Array(Some(items)))
                }
                _ => Err(io::Error::new(io::ErrorKind::InvalidData, line.clone())),
            }
        })
    }
}
