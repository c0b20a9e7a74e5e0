//! After a restart: every run the restored state believes live is settled
//! with the runner before anything new starts.

use groupq::RunId;
use groupq_host::{Entry, ExitRecord};
use tracing::info;

use crate::driver::Driver;
use crate::error::DriverError;
use crate::runner::Runner;

impl<R: Runner> Driver<R> {
    /// Each run the state believes live is either gone (launched by the
    /// driver that stopped: failed, as a vanished run) or was never
    /// launched (its work goes back). The runner kills whatever it still
    /// finds first, orphans included, off the loop's thread.
    pub(crate) async fn reconcile(&mut self) -> Result<(), DriverError> {
        let believed: Vec<RunId> = self.host.live_runs().into_iter().map(|(r, _)| r).collect();
        let launched = self.runner.recover().await.map_err(DriverError::Recovery)?;
        // Launched runs the state no longer holds: their exit was durable
        // before the crash, only their release was not carried out.
        for &run in launched.iter().filter(|run| !believed.contains(run)) {
            self.runner.release(run);
        }
        for &run in &believed {
            let _span = tracing::info_span!("reconcile", run = run.get()).entered();
            let entry = if launched.contains(&run) {
                info!(
                    run = run.get(),
                    "launched before the restart: failed as lost"
                );
                Entry::Exited {
                    run: run.get(),
                    exit: ExitRecord::Lost,
                }
            } else {
                info!(run = run.get(), "never launched: its work goes back");
                Entry::NeverLaunched { run: run.get() }
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
