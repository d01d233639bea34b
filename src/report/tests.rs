use super::*;

#[test]
fn embedded_templates_render_the_sample() {
    let v = sample_view();
    let r = Renderer::new().render(&v).unwrap();
    if std::env::var("BATON_PRINT").is_ok() {
        println!("{}\n=====\n{}\n=====\n{}", r.subject, r.text, r.html);
    }
    // The sample's routing rate went 7.0% -> 10.0%: +3.0 pp (sample.rs).
    assert_eq!(
        r.subject,
        "Handoffs 2026-W46: routing +3.0 pp (your branch)"
    );
    assert!(r.text.contains("Routing"));
    assert!(r.html.contains("What drove the change"));
    assert_eq!(r.attachments.len(), 1);
}
