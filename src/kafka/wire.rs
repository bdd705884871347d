//! The Kafka wire format, for the requests librdkafka cannot make (reassignment, throttles,
//! racks) and for the port-forward tunnel that rewrites Metadata responses.
//!
//! Every request and response is a frame: a 32-bit size, then the payload, a header and a
//! body. Header versions follow from the API version (flexible versions have tagged fields);
//! `kafka-protocol` knows which. Only [`read_frame`] and [`write_frame`] touch a stream.
use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame accepted; Kafka's own default socket.request.max.bytes is 100 MiB.
pub const MAX_FRAME: usize = 100 * 1024 * 1024;

/// The payload of the next frame, or None when the stream ends between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<Bytes>> {
    let size = match reader.read_i32().await {
        Ok(size) => size,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // Every payload starts with at least a correlation id.
    let Some(size) = usize::try_from(size)
        .ok()
        .filter(|&s| (4..=MAX_FRAME).contains(&s))
    else {
        bail!("bad Kafka frame size {size}")
    };
    let mut payload = vec![0u8; size];
    reader.read_exact(&mut payload).await?;
    Ok(Some(Bytes::from(payload)))
}

/// Writes `payload` as one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(writer: &mut W, payload: &[u8]) -> Result<()> {
    let size = i32::try_from(payload.len())
        .ok()
        .filter(|&s| s as usize <= MAX_FRAME)
        .context("Kafka frame too large")?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&size.to_be_bytes());
    frame.extend_from_slice(payload);
    writer.write_all(&frame).await?;
    Ok(())
}

/// A request's payload: its header (naming `client_id`) and `request` at `version`.
pub fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &'static str,
) -> Result<Bytes> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(client_id)));
    let mut payload = BytesMut::new();
    header.encode(&mut payload, R::header_version(version))?;
    request.encode(&mut payload, version)?;
    Ok(payload.freeze())
}

/// A response's payload, as a broker writes it.
pub fn encode_response<T: Encodable + HeaderVersion>(
    header: &ResponseHeader,
    response: &T,
    version: i16,
) -> Result<Bytes> {
    let mut payload = BytesMut::new();
    header.encode(&mut payload, T::header_version(version))?;
    response.encode(&mut payload, version)?;
    Ok(payload.freeze())
}

/// The header and body of a response payload to a request of `version`.
pub fn decode_response<T: Decodable + HeaderVersion>(
    mut payload: Bytes,
    version: i16,
) -> Result<(ResponseHeader, T)> {
    let header = ResponseHeader::decode(&mut payload, T::header_version(version))?;
    let response = T::decode(&mut payload, version)?;
    Ok((header, response))
}

/// API key, API version and correlation id of a request payload: the first fields of every
/// request header, whatever its version.
pub fn request_key(payload: &[u8]) -> Option<(i16, i16, i32)> {
    let field = |at: usize, len: usize| payload.get(at..at + len);
    Some((
        i16::from_be_bytes(field(0, 2)?.try_into().ok()?),
        i16::from_be_bytes(field(2, 2)?.try_into().ok()?),
        i32::from_be_bytes(field(4, 4)?.try_into().ok()?),
    ))
}

/// The correlation id of a response payload: the first field of every response header.
pub fn response_correlation_id(payload: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(payload.get(..4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::{
        ApiVersionsRequest, ApiVersionsResponse, BrokerId, MetadataResponse,
    };
    use kafka_protocol::protocol::{decode_request_header_from_buffer, Message};

    #[tokio::test]
    async fn frames_round_trip_and_end_cleanly() {
        let mut stream = Vec::new();
        write_frame(&mut stream, b"abcd").await.unwrap();
        write_frame(&mut stream, b"efghij").await.unwrap();
        assert_eq!(&stream[..4], &4i32.to_be_bytes());
        let mut reader = stream.as_slice();
        assert_eq!(read_frame(&mut reader).await.unwrap().unwrap(), "abcd");
        assert_eq!(read_frame(&mut reader).await.unwrap().unwrap(), "efghij");
        assert!(read_frame(&mut reader).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn bad_sizes_and_cut_frames_are_errors() {
        for size in [-1i32, 3, MAX_FRAME as i32 + 1] {
            let bytes = size.to_be_bytes();
            assert!(read_frame(&mut bytes.as_slice()).await.is_err(), "{size}");
        }
        let cut = [&8i32.to_be_bytes()[..], b"abc"].concat();
        assert!(read_frame(&mut cut.as_slice()).await.is_err());
    }

    #[test]
    fn a_request_carries_its_key_version_and_correlation_id() {
        for version in ApiVersionsRequest::VERSIONS.min..=ApiVersionsRequest::VERSIONS.max {
            let payload =
                encode_request(&ApiVersionsRequest::default(), version, 7, "test").unwrap();
            assert_eq!(request_key(&payload), Some((18, version, 7)));
            let header = decode_request_header_from_buffer(&mut payload.clone()).unwrap();
            assert_eq!(header.client_id.as_deref(), Some("test"), "v{version}");
        }
        assert_eq!(request_key(&[0, 18, 0]), None);
    }

    #[test]
    fn responses_round_trip_at_every_version() {
        let header = ResponseHeader::default().with_correlation_id(9);
        let broker = MetadataResponseBroker::default()
            .with_node_id(BrokerId(3))
            .with_host(StrBytes::from_static_str("b-3"))
            .with_port(9092);
        let body = MetadataResponse::default().with_brokers(vec![broker]);
        for version in MetadataResponse::VERSIONS.min..=MetadataResponse::VERSIONS.max {
            let payload = encode_response(&header, &body, version).unwrap();
            assert_eq!(response_correlation_id(&payload), Some(9));
            let (read, decoded) = decode_response::<MetadataResponse>(payload, version).unwrap();
            assert_eq!(read.correlation_id, 9);
            assert_eq!(decoded.brokers, body.brokers, "v{version}");
        }
        let body = ApiVersionsResponse::default().with_error_code(35);
        let payload = encode_response(&header, &body, 0).unwrap();
        let (_, decoded) = decode_response::<ApiVersionsResponse>(payload, 0).unwrap();
        assert_eq!(decoded.error_code, 35);
    }
}
