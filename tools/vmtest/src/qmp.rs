// SPDX-License-Identifier: GPL-2.0
//! The QEMU Machine Protocol, as much of it as the tests use: the greeting, capability
//! negotiation, and one command at a time with its reply, skipping asynchronous events.
//!
//! Written here rather than taken from a crate: the crates.io QMP client (qapi) is generated
//! from QEMU's whole schema, where the tests send a handful of commands (screendump,
//! device_add and device_del, query-version, quit) over a blocking Unix socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::{json, Value};

use crate::Result;

/// A QMP client: connect, then execute commands one at a time.
pub struct Qmp {
    rd: BufReader<UnixStream>,
    wr: UnixStream,
}

impl Qmp {
    pub fn connect(path: &Path) -> Result<Qmp> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let sock = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => {
                    return Err(anyhow!("QMP {}: {e}", path.display()))
                }
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        };
        sock.set_read_timeout(Some(Duration::from_secs(60))).ok();
        let wr = sock.try_clone().map_err(|e| anyhow!("QMP: {e}"))?;
        let mut q = Qmp {
            rd: BufReader::new(sock),
            wr,
        };
        let greeting = q.read()?;
        if greeting.get("QMP").is_none() {
            return Err(anyhow!("QMP: unexpected greeting {greeting}"));
        }
        q.execute("qmp_capabilities", json!({}))?;
        Ok(q)
    }

    fn read(&mut self) -> Result<Value> {
        let mut line = String::new();
        match self.rd.read_line(&mut line) {
            Ok(0) => Err(anyhow!("QMP: connection closed")),
            Ok(_) => {
                serde_json::from_str(&line).map_err(|e| anyhow!("QMP: bad reply '{line}': {e}"))
            }
            Err(e) => Err(anyhow!("QMP: {e}")),
        }
    }

    pub fn execute(&mut self, cmd: &str, args: Value) -> Result<Value> {
        let msg = json!({ "execute": cmd, "arguments": args });
        writeln!(self.wr, "{msg}").map_err(|e| anyhow!("QMP: {e}"))?;
        loop {
            let v = self.read()?;
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                return Err(anyhow!("QMP {cmd}: {e}"));
            }
            // Anything else is an asynchronous event; skip it.
        }
    }
}
