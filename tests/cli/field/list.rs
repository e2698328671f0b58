//! `temps list` with the long references a registry gives: the tag that tells versions
//! apart stays visible, whatever the width.

use crate::common::*;
use crate::require_docker;

/// The fixture images under a registry's long name, untagged again when dropped.
struct LongNames {
    tags: Vec<String>,
}

impl LongNames {
    fn new(hint: &str) -> LongNames {
        let repository = format!(
            "127.0.0.1:42500/{hint}-{}-team-services/web",
            std::process::id()
        );
        let tags = vec![format!("{repository}:v1"), format!("{repository}:v2")];
        for (fixture, tag) in [WEB_V1, WEB_V2].iter().zip(&tags) {
            docker(&["tag", fixture, tag]).code(0);
        }
        LongNames { tags }
    }
}

impl Drop for LongNames {
    fn drop(&mut self) {
        for tag in &self.tags {
            let _ = docker(&["rmi", tag]);
        }
    }
}

/// The IMAGE column of each row of `list`'s table (the third column; no ENV column).
fn image_column(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .map(|row| {
            row.split_whitespace()
                .nth(2)
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn list_keeps_the_tag_of_a_long_image_reference_visible() {
    require_docker!();
    let env = TestEnv::new();
    let web = env.web_project("longref");
    let names = LongNames::new("fld");
    let (v1, v2) = (&names.tags[0], &names.tags[1]);
    assert!(v1.len() > 40, "{v1} is not long enough to be cut");
    env.ok(&[
        "deploy",
        &web,
        "--image",
        v1,
        "--publish",
        &free_port().to_string(),
    ]);
    env.ok(&["deploy", &web, "--image", v2]);
    env.ok(&["deploy", &web, "--image", v1]);

    // Into a pipe: 80 columns, cut in the middle.
    let piped = env.ok(&["list", &web]).stdout;
    let images = image_column(&piped);
    assert_eq!(images.len(), 3, "{piped}");
    assert!(
        images[0].ends_with("/web:v1") && images[0].contains('…'),
        "{piped}"
    );
    assert!(images[1].ends_with("/web:v2"), "{piped}");
    assert!(images[0].starts_with("127.0.0.1:"), "{piped}");
    assert_ne!(images[0], images[1]);
    assert_eq!(images[0], images[2]);
    assert!(piped.lines().all(|l| l.chars().count() <= 80), "{piped}");

    // On a wide terminal the whole reference fits.
    let wide = env
        .terminal(&["list", &web], &[PtyStep::Expect("ID ")])
        .code(0);
    let images = image_column(&wide.text);
    assert_eq!(images.len(), 3, "{}", wide.text);
    assert_eq!([&images[0], &images[1]], [v1, v2], "{}", wide.text);
}
