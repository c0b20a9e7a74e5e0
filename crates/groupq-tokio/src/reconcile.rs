//! After a restart: every run the restored state believes live is settled
//! with the runner before anything new starts.

use std::collections::HashMap;

use groupq::RunId;
use groupq_host::{Entry, ExitRecord};
use tracing::info;

use crate::driver::Driver;
use crate::durable::Durability;
use crate::error::DriverError;
use crate::runner::{Believed, Found, Recovery, RunEvents, Runner};

impl<R: Runner> Driver<R> {
    /// The runner settles the runs the driver before left, by the restart
    /// policy: an adopted run goes on as if nothing happened (its lines and
    /// exit follow); one that was launched and is gone (or killed now) is
    /// failed, as a vanished run; one never launched has its work put back.
    /// The runner kills whatever it does not adopt, orphans included, off
    /// the loop's thread.
    pub(crate) async fn reconcile(&mut self) -> Result<(), DriverError> {
        let policy = self
            .durability
            .as_ref()
            .map(Durability::restart_policy)
            .unwrap_or_default();
        let believed: Vec<Believed> = self
            .host
            .live_runs()
            .into_iter()
            .map(|(run, live)| Believed {
                run,
                name: live.name.clone(),
                group: live.group.clone(),
                read_to: live.read_to,
                delivered: live.delivered,
                events: RunEvents::new(run, self.run_events_tx.clone()),
            })
            .collect();
        let live: Vec<RunId> = believed.iter().map(|b| b.run).collect();
        let found: HashMap<RunId, Found> = self
            .runner
            .recover(Recovery { policy, believed })
            .await
            .map_err(DriverError::Recovery)?
            .into_iter()
            .collect();
        // Launched runs the state no longer holds: their exit was durable
        // before the crash, only their release was not carried out.
        let mut stale: Vec<RunId> = found
            .keys()
            .filter(|run| !live.contains(run))
            .copied()
            .collect();
        stale.sort();
        for run in stale {
            self.runner.release(run);
        }
        for run in live {
            let _span = tracing::info_span!("reconcile", run = run.get()).entered();
            let entry = match found.get(&run) {
                Some(Found::Adopted) => {
                    info!(
                        run = run.get(),
                        "adopted: it goes on where the journal stopped"
                    );
                    continue;
                }
                Some(_) => {
                    info!(
                        run = run.get(),
                        "launched before the restart: failed as lost"
                    );
                    Entry::Exited {
                        run: run.get(),
                        exit: ExitRecord::Lost,
                    }
                }
                None => {
                    info!(run = run.get(), "never launched: its work goes back");
                    Entry::NeverLaunched { run: run.get() }
                }
            };
            // A refusal here is damage the replay would have caught.
            self.input(entry, None)??;
        }
        // Each run is released only once its fate is durable: a crash
        // before that finds the same runs again.
        self.flush()?;
        self.carry_out();
        Ok(())
    }
}
