//! The client commands held to the API, and how values convert.

use super::*;

/// Every command's method, fields, templates and columns exist in the API.
#[test]
fn every_command_matches_the_api() {
    for spec in spec::all() {
        let method = call::method(spec.method)
            .unwrap_or_else(|| panic!("{}: no method {}", spec.path, spec.method));
        let vars: Vec<String> = spec.args.iter().map(Arg::var).collect();
        for arg in spec.args {
            if !arg.field.is_empty() {
                assert!(
                    field_at(&method.input(), arg.field).is_some(),
                    "{}: {} has no field {}",
                    spec.path,
                    method.input().full_name(),
                    arg.field
                );
            }
            let mut rest = arg.template;
            while let Some(start) = rest.find('{') {
                let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
                let var = &rest[start + 1..end];
                assert!(
                    var.is_empty() || var == "ics" || vars.iter().any(|v| v == var),
                    "{}: template {} uses unknown {{{var}}}",
                    spec.path,
                    arg.template
                );
                rest = &rest[end..];
            }
        }
        if !spec.body.is_empty() {
            assert!(
                field_at(&method.input(), spec.body).is_some(),
                "{}: body {}",
                spec.path,
                spec.body
            );
        }
        let output = method.output();
        let columns = match spec.view {
            spec::View::List(items, cols) | spec::View::Diff(items, cols) => {
                let (_, field) = field_at(&output, items)
                    .unwrap_or_else(|| panic!("{}: no list {items}", spec.path));
                assert!(field.is_list(), "{}: {items} is not repeated", spec.path);
                field.kind().as_message().cloned().map(|m| (m, cols))
            }
            spec::View::Row(cols) | spec::View::Watch(cols, _) => Some((output.clone(), cols)),
            _ => None,
        };
        let footer = spec::footer(spec.method)
            .iter()
            .map(|c| (output.clone(), *c));
        let columns = columns
            .into_iter()
            .flat_map(|(m, cols)| cols.iter().map(move |c| (m.clone(), *c)))
            .chain(footer);
        for (message, (_, path)) in columns {
            for path in path.split('|').map(|p| p.trim_end_matches('?')) {
                assert!(
                    field_at(&message, path).is_some(),
                    "{}: column {path} not in {}",
                    spec.path,
                    message.full_name()
                );
            }
        }
        if let spec::View::Watch(_, (request_field, response_path)) = spec.view {
            assert!(method.is_server_streaming(), "{}", spec.path);
            assert!(
                field_at(&method.input(), request_field).is_some(),
                "{}",
                spec.path
            );
            assert!(field_at(&output, response_path).is_some(), "{}", spec.path);
        }
    }
}

/// Every command's example runs that command.
#[test]
fn every_example_runs_its_command() {
    for spec in spec::all() {
        assert!(
            spec.example
                .starts_with(&format!("concordat {} ", spec.path))
                || spec.example == format!("concordat {}", spec.path),
            "{}: {}",
            spec.path,
            spec.example
        );
    }
}

/// The commands build: names are unique and clap's own checks pass.
#[test]
fn the_commands_build() {
    let root = Command::new("concordat").subcommands(commands());
    root.debug_assert();
    assert!(groups().contains(&"cr") && groups().contains(&"whoami"));
}

#[test]
fn values_convert_by_the_field_type() {
    let method = call::method("CreateChangeRequest").unwrap();
    let (_, class) = field_at(&method.input(), "change_request.change_class").unwrap();
    assert_eq!(
        convert(&class, "safety-critical").unwrap(),
        "CHANGE_CLASS_SAFETY_CRITICAL"
    );
    assert!(
        convert(&class, "urgent")
            .unwrap_err()
            .contains("safety-critical")
    );
    let (_, cost) = field_at(&method.input(), "change_request.cost_estimate_pence").unwrap();
    assert_eq!(convert(&cost, "6000000").unwrap(), 6_000_000);
    assert!(convert(&cost, "6k").is_err());
    let submit = call::method("SubmitChangeRequest").unwrap();
    let (_, etag) = field_at(&submit.input(), "etag").unwrap();
    assert_eq!(convert(&etag, "3").unwrap(), "\"3\"");
    let open = call::method("OpenVoting").unwrap();
    let (_, deadline) = field_at(&open.input(), "deadline").unwrap();
    assert_eq!(
        convert(&deadline, "2027-01-15").unwrap(),
        "2027-01-15T00:00:00Z"
    );
    assert!(convert(&deadline, "tomorrow").is_err());
    assert!(is_cr_number("CR-2026-0001") && !is_cr_number("CR-26-1") && !is_cr_number("abc"));
}
