//! A rollback target whose digest the registry lost is refused at validation (exit 4),
//! with the way back: redeploy from source.

use super::support::*;
use crate::common::*;
use crate::require_swarm;

#[test]
fn a_rollback_to_a_digest_the_registry_lost_is_refused_before_anything_changes() {
    let lab = require_swarm!();
    let _held = lab.shared();
    let project = SwarmProject::new(lab, "swgone");
    // A repository of the test's own, so deleting its manifest touches no other test.
    let repo = format!("gone-{}", project.name);
    let pushed = lab.push("temps-test/web:v1", &format!("{repo}/web:v1"));
    let tag = format!("{}/{repo}/web:v1", lab.registry);
    let first = project.deploy(&tag, &["--swarm", "--replicas", "2"]);
    assert_eq!(first["image_id"], pushed.as_str());
    project.deploy(lab.image("WEB_V2"), &[]);

    let digest = pushed.rsplit_once('@').expect("a digest").1;
    lab.delete_digest(&format!("{repo}/web"), digest);
    assert!(!lab.has_manifest(&format!("{repo}/web"), digest));

    let first_id = id(&first);
    for extra in [&["--dry-run"][..], &["--yes"][..]] {
        let mut args = vec!["rollback", first_id.as_str()];
        args.extend_from_slice(extra);
        let run = project
            .run(&args)
            .code(4)
            .stderr_has("no longer in its registry")
            .stderr_has(&format!("temps deploy {} --image {tag}", project.name));
        assert_error_with_hint(&run);
    }
    assert_eq!(
        project.history().len(),
        2,
        "a refused rollback records nothing"
    );
    assert_eq!(
        lab.service_image(&project.service("production")),
        lab.digest("WEB_V2")
    );
}
