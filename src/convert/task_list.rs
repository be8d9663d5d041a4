//! Domain lists -> protobuf lists.

use super::time::timestamp_out;
use crate::domain::{Etag, ListId, TaskList};
use crate::proto::v1 as pb;

pub fn task_list_out(list: &TaskList) -> pb::TaskList {
    pb::TaskList {
        name: list.name().to_string(),
        title: list.title.as_str().to_owned(),
        inbox: list.id == ListId::Inbox,
        create_time: list.create_time.map(timestamp_out),
        update_time: list.update_time.map(timestamp_out),
        etag: Etag(list.version).to_string(),
    }
}
