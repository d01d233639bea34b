use super::*;

#[test]
fn embedded_templates_render_the_sample() {
    let v = sample_view();
    let r = Renderer::new().render(&v).unwrap();
    if std::env::var("BATON_PRINT").is_ok() {
        println!("{}\n=====\n{}\n=====\n{}", r.subject, r.text, r.html);
    }
    // The sample's routing rate went 7.0% -> 10.0%: +3.0 pp (sample.rs), on 20 of 200 vs
    // 13 of 180 conversations: within noise.
    assert_eq!(
        r.subject,
        "Handoffs 2026-W46: no significant change (routing 10.0%, +3.0 pp within normal variation)"
    );
    assert!(r.text.contains("Routing"));
    assert!(r.html.contains("Tested drivers"));
    assert!(r.html.contains("Why routing moved"));
    assert_eq!(r.attachments.len(), 1);
}
