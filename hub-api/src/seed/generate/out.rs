//! Rows on their way to the writer: buffered per table, sent a full chunk at a time, children
//! held back until their parents are out.

use super::Stopped;
use crate::seed::tables::{Chunk, Table};
use sea_orm::Value;
use tokio::sync::mpsc::Sender;

/// Buffers rows per table and sends each chunk once it is full.
pub(super) struct Out {
    tx: Sender<Chunk>,
    buffers: Vec<Vec<Value>>,
    rows: Vec<usize>,
    /// Full chunks of a child table (see [`Table::parent`]) waiting for their parent rows,
    /// still buffered, to be sent first. Holding them keeps every chunk full (one prepared
    /// statement per table) where flushing the parent early would not.
    held: Vec<Chunk>,
}

impl Out {
    pub(super) fn new(tx: Sender<Chunk>) -> Self {
        Self {
            tx,
            buffers: Table::ALL.iter().map(|_| Vec::new()).collect(),
            rows: vec![0; Table::ALL.len()],
            held: Vec::new(),
        }
    }

    /// Buffers one row of `table`, sending the chunk once it is full.
    pub(super) fn push<const N: usize>(
        &mut self,
        table: Table,
        row: [Value; N],
    ) -> Result<(), Stopped> {
        debug_assert_eq!(N, table.columns().len(), "{}", table.name());
        let i = table.index();
        if self.buffers[i].is_empty() {
            self.buffers[i].reserve_exact(table.chunk_rows() * N);
        }
        self.buffers[i].extend(row);
        self.rows[i] += 1;
        if self.rows[i] == table.chunk_rows() {
            self.flush(table)?;
        }
        Ok(())
    }

    /// Sends the buffered rows of `table` (held back while its parent has rows buffered).
    pub(super) fn flush(&mut self, table: Table) -> Result<(), Stopped> {
        let i = table.index();
        if self.rows[i] == 0 {
            return Ok(());
        }
        let chunk = Chunk {
            table,
            rows: std::mem::take(&mut self.rows[i]),
            values: std::mem::take(&mut self.buffers[i]),
        };
        if let Some(parent) = table.parent()
            && self.rows[parent.index()] > 0
        {
            self.held.push(chunk);
            return Ok(());
        }
        self.tx.blocking_send(chunk).map_err(|_| Stopped)?;
        // Held chunks only wait for a parent with buffered rows: it has just been sent.
        if self
            .held
            .first()
            .is_some_and(|h| h.table.parent() == Some(table))
        {
            for held in std::mem::take(&mut self.held) {
                self.tx.blocking_send(held).map_err(|_| Stopped)?;
            }
        }
        Ok(())
    }

    /// Sends every partial chunk; called between stages so parents reach the database before
    /// the rows that reference them.
    pub(super) fn flush_all(&mut self) -> Result<(), Stopped> {
        for table in Table::ALL {
            self.flush(table)?;
        }
        Ok(())
    }
}
