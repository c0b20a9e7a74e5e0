//! What the container engine saw (`--docker`): its own list of the demo's
//! containers, sampled while the demo runs, so the summary's container
//! counts come from the engine and not from the driver.

use std::collections::BTreeMap;
use std::time::Duration;

use groupq_tokio::DockerRunner;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The engine's view of the demo's containers.
#[derive(Debug, Default)]
pub struct EngineView {
    /// Most containers running at once, in one sample.
    pub max_running: usize,
    /// Most containers of one group running at once.
    pub max_in_group: usize,
    /// Samples taken.
    pub samples: u64,
    /// Containers of the demo the engine still lists at the end.
    pub left: usize,
}

/// Samples the engine's list every 25 ms until told to stop.
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<EngineView>,
    owner: String,
}

impl Sampler {
    pub fn start(owner: &str) -> Sampler {
        let (stop, mut stopped) = oneshot::channel();
        let who = owner.to_string();
        let task = tokio::spawn(async move {
            let mut view = EngineView::default();
            loop {
                if let Ok(listed) = DockerRunner::list_at(None, &who).await {
                    let running: Vec<_> = listed.iter().filter(|c| c.running).collect();
                    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
                    for c in &running {
                        *groups.entry(c.group.as_deref().unwrap_or("")).or_default() += 1;
                    }
                    view.max_running = view.max_running.max(running.len());
                    let most = groups.values().copied().max().unwrap_or(0);
                    view.max_in_group = view.max_in_group.max(most);
                    view.samples += 1;
                }
                tokio::select! {
                    _ = &mut stopped => return view,
                    () = tokio::time::sleep(Duration::from_millis(25)) => {}
                }
            }
        });
        Sampler {
            stop,
            task,
            owner: owner.to_string(),
        }
    }

    /// Stops sampling; counts what the engine still lists of the demo.
    pub async fn finish(self) -> Result<EngineView, crate::Fatal> {
        let _ = self.stop.send(());
        let mut view = self.task.await?;
        view.left = DockerRunner::list_at(None, &self.owner).await?.len();
        Ok(view)
    }
}

impl EngineView {
    /// Fails unless the engine never ran two containers of a group, nor
    /// more than `max_active`, and nothing of the demo is left.
    pub fn verify(&self, max_active: usize) -> Result<(), String> {
        if self.max_in_group > 1 {
            return Err(format!(
                "the engine ran {} containers of one group",
                self.max_in_group
            ));
        }
        if self.max_running > max_active {
            return Err(format!(
                "the engine ran {} containers at once, max_active is {max_active}",
                self.max_running
            ));
        }
        if self.left > 0 {
            return Err(format!("{} containers of the demo left behind", self.left));
        }
        Ok(())
    }
}
