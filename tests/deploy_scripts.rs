//! The deploy scripts (`scripts/deploy/*.sh`) and every decision they make.
//!
//! Azure cannot be reached from where these tests run, so this file is the one place in
//! the project where an Azure service is stood in for: `tests/deploy/bin/az` and
//! `tests/deploy/bin/curl` are small programs written for these tests. They keep a model
//! of one Function App with a `staging` slot in files (which package each slot runs, what
//! each package's `/api/health` answers through the Functions host, what was written
//! through Kudu), record every call, and fail on demand. The other tests run against a
//! real PostgreSQL and the real binaries; where they play the Functions host's part (its
//! HTTP calls, its front end for the HTTP functions) or stand in for Entra's tokens, they
//! say so in their module docs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

const RG: &str = "rg-paymetrics";
const APP: &str = "func-paymetrics";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A model of one Function App, its slots and its packages, in a folder of its own.
struct Azure {
    dir: PathBuf,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Azure {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "pm-deploy-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["slot", "health", "fail", "packages"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        Self { dir }
    }

    /// Builds a package named `name` whose newest migration is `schema`, laid out as
    /// `scripts/package.sh` lays it out.
    fn package(&self, name: &str, schema: u32) -> PathBuf {
        self.package_with(name, schema, true)
    }

    fn package_with(&self, name: &str, schema: u32, executable: bool) -> PathBuf {
        let stage = self.dir.join("stage").join(name);
        for folder in ["Health", "EventHubTrigger", "TimerTrigger", "migrations"] {
            std::fs::create_dir_all(stage.join(folder)).unwrap();
        }
        std::fs::write(stage.join("host.json"), "{}").unwrap();
        for folder in ["Health", "EventHubTrigger", "TimerTrigger"] {
            std::fs::write(stage.join(folder).join("function.json"), "{}").unwrap();
        }
        for version in 1..=schema {
            std::fs::write(
                stage
                    .join("migrations")
                    .join(format!("{version:04}_step.sql")),
                "SELECT 1;",
            )
            .unwrap();
        }
        std::fs::write(stage.join("handler"), "#!/bin/sh\n").unwrap();
        let mode = if executable { "0755" } else { "0644" };
        run_ok(Command::new("chmod").arg(mode).arg(stage.join("handler")));
        let zip = self.dir.join("packages").join(format!("{name}.zip"));
        run_ok(
            Command::new("zip")
                .arg("-q")
                .arg("-r")
                .arg("-X")
                .arg(&zip)
                .arg(".")
                .current_dir(&stage),
        );
        zip
    }

    /// What `package`'s health function answers: `status` is `Outputs.res.statusCode`,
    /// which the host hands to the caller.
    fn health(&self, package: &str, status: u16, schema_version: u32, schema_expected: u32) {
        self.health_file(
            &format!("{package}.zip"),
            status,
            schema_version,
            schema_expected,
        );
    }

    /// The same, in one slot only.
    fn health_in(&self, package: &str, slot: &str, status: u16, version: u32, expected: u32) {
        self.health_file(&format!("{package}.zip@{slot}"), status, version, expected);
    }

    fn health_file(&self, file: &str, status: u16, schema_version: u32, schema_expected: u32) {
        let database = if status == 200 {
            "ok"
        } else {
            "the schema is behind"
        };
        let body = format!(
            "{status}\n{{\"version\":\"0.1.0+{file}\",\"schema_version\":{schema_version},\
             \"schema_expected\":{schema_expected},\"database\":\"{database}\",\
             \"window_close_lag_seconds\":0,\"last_ingested_at\":null,\"rejected_last_hour\":0}}\n"
        );
        std::fs::write(self.dir.join("health").join(file), body).unwrap();
    }

    /// The first `calls` health calls to `package` answer 503, as a starting host does.
    fn warm_up(&self, package: &str, calls: u32) {
        std::fs::write(
            self.dir
                .join("health")
                .join(format!("{package}.zip.warmup")),
            calls.to_string(),
        )
        .unwrap();
    }

    /// `slot` runs `package` now.
    fn running(&self, slot: &str, package: &str) {
        std::fs::write(self.dir.join("slot").join(slot), format!("{package}.zip\n")).unwrap();
    }

    /// The package `slot` runs, by name.
    fn runs(&self, slot: &str) -> String {
        std::fs::read_to_string(self.dir.join("slot").join(slot))
            .unwrap_or_default()
            .trim()
            .trim_end_matches(".zip")
            .to_owned()
    }

    /// Calls number `calls` (1-based, or `*`) of `operation` fail.
    fn fail(&self, operation: &str, calls: &str) {
        std::fs::write(self.dir.join("fail").join(operation), calls).unwrap();
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn calls_with(&self, needle: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.contains(needle))
            .collect()
    }

    fn run(&self, script: &str, args: &[&str]) -> Outcome {
        let path = format!(
            "{}:{}",
            root().join("tests/deploy/bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let output = Command::new("bash")
            .arg(root().join("scripts/deploy").join(script))
            .args(args)
            .env("PATH", path)
            .env("STANDIN_DIR", &self.dir)
            .env("STANDIN_RG", RG)
            .env("STANDIN_APP", APP)
            .env("PAYMETRICS_HEALTH_ATTEMPTS", "4")
            .env("PAYMETRICS_HEALTH_INTERVAL", "0")
            .env_remove("GITHUB_ACTIONS")
            .output()
            .expect("bash runs");
        Outcome::from(output)
    }

    fn slot_deploy(&self, package: &Path) -> Outcome {
        self.run("slot-deploy.sh", &[RG, APP, package.to_str().unwrap()])
    }

    fn dev_deploy(&self, package: &Path, previous: Option<&Path>) -> Outcome {
        let mut args = vec![RG, APP, package.to_str().unwrap()];
        if let Some(previous) = previous {
            args.push(previous.to_str().unwrap());
        }
        self.run("dev-deploy.sh", &args)
    }

    fn vfs(&self, slot: &str) -> PathBuf {
        self.dir
            .join("vfs")
            .join(slot)
            .join("data/paymetrics/engine.yaml")
    }
}

impl Drop for Azure {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    fn succeeded(&self) -> &Self {
        assert!(
            self.success,
            "expected success\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The script failed, and its last word names `step`.
    fn failed_at(&self, step: &str) -> &Self {
        assert!(
            !self.success,
            "expected a failure\n--- stdout\n{}",
            self.stdout
        );
        let expected = format!("deploy FAILED at {step}:");
        assert!(
            self.stderr
                .lines()
                .last()
                .unwrap_or("")
                .starts_with(&expected),
            "expected the failure to name `{step}`\n--- stderr\n{}\n--- stdout\n{}",
            self.stderr,
            self.stdout
        );
        self
    }

    fn says(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text) || self.stdout.contains(text),
            "expected `{text}` in the output\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    fn never_prints(&self, secret: &str) -> &Self {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "`{secret}` was printed"
        );
        self
    }
}

fn run_ok(command: &mut Command) {
    let status = command.status().expect("the command runs");
    assert!(status.success(), "{command:?} failed");
}

/// Production runs release 1 (schema 5) and is healthy; release 2 brings schema 6.
fn two_releases() -> (Azure, PathBuf) {
    let azure = Azure::new();
    azure.package("release-1", 5);
    let new = azure.package("release-2", 6);
    azure.running("production", "release-1");
    azure.running("staging", "release-1");
    azure.health("release-1", 200, 5, 5);
    azure.health("release-2", 200, 6, 6);
    (azure, new)
}

#[test]
fn a_healthy_release_is_deployed_to_the_slot_checked_and_swapped_into_production() {
    let (azure, new) = two_releases();
    azure
        .slot_deploy(&new)
        .succeeded()
        .says("production is healthy (schema 6)")
        .never_prints("key-staging")
        .never_prints("key-production");
    assert_eq!(azure.runs("production"), "release-2");
    assert_eq!(azure.runs("staging"), "release-1");
    let deploys = azure.calls_with("config-zip");
    assert_eq!(deploys.len(), 1, "{deploys:?}");
    assert!(deploys[0].contains("--slot staging"), "{deploys:?}");
    assert_eq!(azure.calls_with("slot swap").len(), 1);
    // The health checks went through the host with the slot's own function key.
    assert!(
        azure
            .calls_with("https://func-paymetrics-staging.azurewebsites.net/api/health")
            .iter()
            .all(|c| c.contains("x-functions-key: key-staging"))
    );
}

#[test]
fn an_unhealthy_staging_slot_is_never_swapped() {
    let (azure, new) = two_releases();
    // The new handler started but its schema is behind (its migration failed).
    azure.health("release-2", 503, 5, 6);
    azure
        .slot_deploy(&new)
        .failed_at("health of the staging slot")
        .says("not swapped, production is unchanged");
    assert!(azure.calls_with("slot swap").is_empty());
    assert_eq!(azure.runs("production"), "release-1");
    assert_eq!(
        azure
            .calls_with("staging.azurewebsites.net/api/health")
            .len(),
        4,
        "every attempt is used before giving up"
    );
}

#[test]
fn a_slot_still_answering_with_the_previous_build_is_not_taken_for_the_new_one() {
    let (azure, new) = two_releases();
    // Healthy, but the build that answers expects schema 5: the old code is still running.
    azure.health("release-2", 200, 6, 5);
    azure
        .slot_deploy(&new)
        .failed_at("health of the staging slot");
    assert!(azure.calls_with("slot swap").is_empty());
}

#[test]
fn a_slot_that_is_still_starting_is_waited_for() {
    let (azure, new) = two_releases();
    azure.warm_up("release-2", 2);
    azure.fail("keys-staging", "1");
    azure.slot_deploy(&new).succeeded();
    assert_eq!(azure.runs("production"), "release-2");
    assert!(
        azure.calls_with("keys list").len() >= 4,
        "the key is asked for again on every attempt"
    );
}

#[test]
fn production_failing_its_health_check_after_the_swap_is_swapped_back() {
    let (azure, new) = two_releases();
    // Fine in the slot, failing with production's own (sticky) settings.
    azure.health_in("release-2", "production", 503, 6, 6);
    azure
        .slot_deploy(&new)
        .failed_at("health of production")
        .says("swapped back, production runs the previous release");
    assert_eq!(azure.calls_with("slot swap").len(), 2);
    assert_eq!(azure.runs("production"), "release-1");
    assert_eq!(azure.runs("staging"), "release-2");
}

#[test]
fn a_swap_back_that_fails_is_reported_as_such() {
    let (azure, new) = two_releases();
    azure.health_in("release-2", "production", 503, 6, 6);
    azure.fail("swap", "2");
    azure
        .slot_deploy(&new)
        .failed_at("swap back")
        .says("production may still run the new release");
}

#[test]
fn a_swap_back_to_a_release_that_is_unhealthy_too_is_reported() {
    let (azure, new) = two_releases();
    azure.health_in("release-2", "production", 503, 6, 6);
    azure.health_in("release-1", "production", 503, 6, 5);
    azure
        .slot_deploy(&new)
        .failed_at("health of production after the swap back");
}

#[test]
fn a_failed_zip_deploy_to_the_slot_stops_everything_after_it() {
    let (azure, new) = two_releases();
    azure.fail("deploy-staging", "*");
    azure
        .slot_deploy(&new)
        .failed_at("deploy to the staging slot")
        .says("production is unchanged");
    assert!(azure.calls_with("slot swap").is_empty());
    assert!(
        azure
            .calls_with("staging.azurewebsites.net/api/health")
            .is_empty()
    );
}

#[test]
fn a_failed_swap_fails_the_deploy() {
    let (azure, new) = two_releases();
    azure.fail("swap", "1");
    azure
        .slot_deploy(&new)
        .failed_at("swap staging into production");
    assert_eq!(azure.runs("production"), "release-1");
}

#[test]
fn a_package_whose_handler_is_not_executable_is_refused_before_any_call() {
    let azure = Azure::new();
    let broken = azure.package_with("release-x", 6, false);
    azure
        .slot_deploy(&broken)
        .failed_at("check the package")
        .says("handler is not executable");
    assert!(azure.calls().is_empty(), "{:?}", azure.calls());
}

#[test]
fn a_missing_package_is_refused_before_any_call() {
    let azure = Azure::new();
    let missing = azure.dir.join("packages/none.zip");
    azure
        .dev_deploy(&missing, None)
        .failed_at("check the package");
    assert!(azure.calls().is_empty());
}

#[test]
fn a_healthy_dev_release_stays() {
    let (azure, new) = two_releases();
    let previous = azure.dir.join("packages/release-1.zip");
    azure.dev_deploy(&new, Some(&previous)).succeeded();
    assert_eq!(azure.runs("production"), "release-2");
    let deploys = azure.calls_with("config-zip");
    assert_eq!(deploys.len(), 1);
    assert!(!deploys[0].contains("--slot"), "{deploys:?}");
}

#[test]
fn an_unhealthy_dev_release_is_replaced_by_the_previous_package() {
    let (azure, new) = two_releases();
    let previous = azure.dir.join("packages/release-1.zip");
    azure.health("release-2", 503, 5, 6);
    azure
        .dev_deploy(&new, Some(&previous))
        .failed_at("health")
        .says("rolled back, dev runs the previous package");
    assert_eq!(azure.runs("production"), "release-1");
    let deploys = azure.calls_with("config-zip");
    assert_eq!(deploys.len(), 2);
    assert!(deploys[1].ends_with("release-1.zip"), "{deploys:?}");
}

#[test]
fn a_failed_dev_deploy_redeploys_the_previous_package() {
    let (azure, new) = two_releases();
    let previous = azure.dir.join("packages/release-1.zip");
    azure.fail("deploy-production", "1");
    azure
        .dev_deploy(&new, Some(&previous))
        .failed_at("deploy")
        .says("zip deploy failed; rolled back");
    assert_eq!(azure.runs("production"), "release-1");
}

#[test]
fn a_dev_rollback_that_is_not_healthy_either_says_so() {
    let (azure, new) = two_releases();
    let previous = azure.dir.join("packages/release-1.zip");
    azure.health("release-2", 503, 5, 6);
    azure.health("release-1", 503, 5, 5);
    azure
        .dev_deploy(&new, Some(&previous))
        .failed_at("health after the rollback")
        .says("not healthy either");
}

#[test]
fn without_a_previous_package_a_dev_failure_is_only_reported() {
    let (azure, new) = two_releases();
    azure.health("release-2", 503, 5, 6);
    azure
        .dev_deploy(&new, None)
        .failed_at("health")
        .says("no previous package to roll back to");
    assert_eq!(azure.calls_with("config-zip").len(), 1);
}

#[test]
fn dev_health_refused_at_the_connection_counts_as_unhealthy() {
    let (azure, new) = two_releases();
    let previous = azure.dir.join("packages/release-1.zip");
    azure.fail("health-production", "1 2 3 4");
    azure
        .dev_deploy(&new, Some(&previous))
        .failed_at("health")
        .says("rolled back");
}

fn upload(azure: &Azure, file: &Path, slots: &[&str]) -> Outcome {
    let mut args = vec![
        RG,
        APP,
        file.to_str().unwrap(),
        env!("CARGO_BIN_EXE_handler"),
    ];
    args.extend_from_slice(slots);
    azure.run("upload-engine-config.sh", &args)
}

#[test]
fn a_valid_engine_file_is_uploaded_to_the_app_and_its_slot_and_read_back() {
    let azure = Azure::new();
    let file = root().join("config/engine.yaml");
    upload(&azure, &file, &["staging"])
        .succeeded()
        .never_prints("token-for-app-service");
    let sent = std::fs::read(&file).unwrap();
    assert_eq!(std::fs::read(azure.vfs("production")).unwrap(), sent);
    assert_eq!(std::fs::read(azure.vfs("staging")).unwrap(), sent);
    let puts = azure.calls_with("-X PUT");
    assert_eq!(puts.len(), 2);
    assert!(
        puts[0].contains(
            "https://func-paymetrics.scm.azurewebsites.net/api/vfs/data/paymetrics/engine.yaml"
        ),
        "{puts:?}"
    );
    assert!(
        azure
            .calls()
            .iter()
            .all(|c| !c.contains("token-for-app-service")),
        "the token is passed in a header file, not on the command line"
    );
}

#[test]
fn an_engine_file_already_in_place_is_overwritten() {
    let azure = Azure::new();
    let old = azure.vfs("production");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(&old, "rules: []\n").unwrap();
    let file = root().join("config/engine.yaml");
    upload(&azure, &file, &[]).succeeded();
    assert_eq!(
        std::fs::read(azure.vfs("production")).unwrap(),
        std::fs::read(&file).unwrap()
    );
}

#[test]
fn an_invalid_engine_file_is_never_uploaded() {
    let azure = Azure::new();
    let file = azure.dir.join("engine.yaml");
    std::fs::write(&file, "windows:\n  allowed_lateness: soon\n").unwrap();
    upload(&azure, &file, &[])
        .failed_at(&format!("validate {}", file.display()))
        .says("nothing was uploaded");
    assert!(azure.calls().is_empty(), "{:?}", azure.calls());
    assert!(!azure.vfs("production").exists());
}

#[test]
fn kudu_refusing_the_upload_fails_naming_the_target() {
    let azure = Azure::new();
    azure.fail("vfs-put", "*");
    upload(&azure, &root().join("config/engine.yaml"), &[]).failed_at("upload to production");
}

#[test]
fn no_token_means_no_upload() {
    let azure = Azure::new();
    azure.fail("token", "*");
    upload(&azure, &root().join("config/engine.yaml"), &[]).failed_at("token for the Kudu API");
    assert!(azure.calls_with("curl").is_empty());
}
