//! The outbox keeps events until the server acknowledged them.

mod common;

use common::journal;

#[tokio::test]
async fn events_wait_in_order_until_marked_sent() {
    let (_d, j) = journal().await;
    let a = j.enqueue("file_seen", r#"{"path":"a.tif"}"#).await.unwrap();
    let b = j
        .enqueue("qc", r#"{"path":"a.tif","snr":3.5}"#)
        .await
        .unwrap();
    let c = j.enqueue("purge", "[]").await.unwrap();
    assert!(a != b && b != c);

    let unsent = j.unsent(2).await.unwrap();
    let got: Vec<(&str, &str)> = unsent
        .iter()
        .map(|e| (e.id.as_str(), e.kind.as_str()))
        .collect();
    assert_eq!(got, [(a.as_str(), "file_seen"), (b.as_str(), "qc")]);
    assert_eq!(unsent[0].payload, r#"{"path":"a.tif"}"#);
    assert!(unsent[0].sent_at.is_none());

    assert_eq!(
        j.mark_sent(&[a.clone(), "no-such-id".into()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        j.mark_sent(std::slice::from_ref(&a)).await.unwrap(),
        0,
        "already sent"
    );
    let left: Vec<String> = j
        .unsent(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, [b, c]);
}

#[tokio::test]
async fn payload_must_be_json() {
    let (_d, j) = journal().await;
    assert!(j.enqueue("x", "{not json").await.is_err());
    assert!(j.unsent(10).await.unwrap().is_empty());
}
