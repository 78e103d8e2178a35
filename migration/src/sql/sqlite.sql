-- MeshCore Hub's schema on SQLite (alembic head a59611449e2a, the same as at da69304d8106:
-- a59611449e2a changes no SQLite object), statement for statement as that service leaves it in
-- sqlite_master, so that a database hub creates is indistinguishable from one it created. Tables are in dependency order; each statement ends with `;` on its
-- own line end. Kept byte-exact (trailing spaces included): sqlite_master stores this text.

CREATE TABLE "nodes" (
	id VARCHAR NOT NULL, 
	public_key VARCHAR(64) NOT NULL, 
	name VARCHAR(255), 
	adv_type VARCHAR(20), 
	flags INTEGER, 
	first_seen DATETIME NOT NULL, 
	last_seen DATETIME, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	lat FLOAT, 
	lon FLOAT, 
	is_observer BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (public_key)
);
CREATE INDEX ix_nodes_adv_type ON nodes (adv_type);
CREATE INDEX ix_nodes_is_observer ON nodes (is_observer);
CREATE INDEX ix_nodes_last_seen ON nodes (last_seen);
CREATE UNIQUE INDEX ix_nodes_public_key ON nodes (public_key);

CREATE TABLE node_tags (
	id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	"key" VARCHAR(100) NOT NULL, 
	value TEXT, 
	value_type VARCHAR(20) DEFAULT 'string' NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE, 
	CONSTRAINT uq_node_tags_node_key UNIQUE (node_id, "key")
);
CREATE INDEX ix_node_tags_key ON node_tags ("key");
CREATE INDEX ix_node_tags_node_id ON node_tags (node_id);

CREATE TABLE "advertisements" (
	id VARCHAR NOT NULL, 
	observer_node_id VARCHAR, 
	node_id VARCHAR, 
	public_key VARCHAR(64) NOT NULL, 
	name VARCHAR(255), 
	adv_type VARCHAR(20), 
	flags INTEGER, 
	received_at DATETIME NOT NULL, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	event_hash VARCHAR(32), route_type VARCHAR(20), advert_timestamp DATETIME, packet_hash VARCHAR(32), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_advertisements_event_hash UNIQUE (event_hash), 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE SET NULL, 
	FOREIGN KEY(observer_node_id) REFERENCES nodes (id) ON DELETE SET NULL
);
CREATE INDEX ix_advertisements_node_id ON advertisements (node_id);
CREATE INDEX ix_advertisements_observer_node_id ON advertisements (observer_node_id);
CREATE INDEX ix_advertisements_packet_hash ON advertisements (packet_hash);
CREATE INDEX ix_advertisements_public_key ON advertisements (public_key);
CREATE INDEX ix_advertisements_received_at ON advertisements (received_at);

CREATE TABLE "messages" (
	id VARCHAR NOT NULL, 
	observer_node_id VARCHAR, 
	message_type VARCHAR(20) NOT NULL, 
	pubkey_prefix VARCHAR(12), 
	channel_idx INTEGER, 
	text TEXT NOT NULL, 
	path_len INTEGER, 
	txt_type INTEGER, 
	signature VARCHAR(32), 
	snr FLOAT, 
	sender_timestamp DATETIME, 
	received_at DATETIME NOT NULL, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	event_hash VARCHAR(32), 
	packet_hash VARCHAR(32), path_prefix VARCHAR(48), sender_normalized VARCHAR(255), spam_score FLOAT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_messages_event_hash UNIQUE (event_hash), 
	FOREIGN KEY(observer_node_id) REFERENCES nodes (id) ON DELETE SET NULL
);
CREATE INDEX ix_messages_channel_idx ON messages (channel_idx);
CREATE INDEX ix_messages_message_type ON messages (message_type);
CREATE INDEX ix_messages_observer_node_id ON messages (observer_node_id);
CREATE INDEX ix_messages_packet_hash ON messages (packet_hash);
CREATE INDEX ix_messages_path_prefix_received_at ON messages (path_prefix, received_at);
CREATE INDEX ix_messages_pubkey_prefix ON messages (pubkey_prefix);
CREATE INDEX ix_messages_received_at ON messages (received_at);
CREATE INDEX ix_messages_sender_normalized_received_at ON messages (sender_normalized, received_at);

CREATE TABLE channels (
	name VARCHAR(100) NOT NULL, 
	key_hex VARCHAR(64) NOT NULL, 
	channel_hash VARCHAR(2) NOT NULL, 
	visibility VARCHAR(20) NOT NULL, 
	enabled BOOLEAN NOT NULL, 
	id VARCHAR NOT NULL, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (key_hex)
);
CREATE UNIQUE INDEX ix_channels_name ON channels (name);

CREATE TABLE user_profiles (
	user_id VARCHAR(255) NOT NULL, 
	name VARCHAR(255), 
	callsign VARCHAR(20), 
	id VARCHAR NOT NULL, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, roles TEXT, description TEXT, url VARCHAR(2048), 
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_user_profiles_user_id ON user_profiles (user_id);

CREATE TABLE user_profile_nodes (
	user_profile_id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	adopted_at DATETIME NOT NULL, 
	PRIMARY KEY (user_profile_id, node_id), 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE, 
	FOREIGN KEY(user_profile_id) REFERENCES user_profiles (id) ON DELETE CASCADE, 
	CONSTRAINT uq_user_profile_nodes_node_id UNIQUE (node_id)
);
CREATE INDEX ix_user_profile_nodes_node_id ON user_profile_nodes (node_id);

CREATE TABLE "event_observers" (
	id VARCHAR(36) NOT NULL, 
	event_type VARCHAR(20) NOT NULL, 
	event_hash VARCHAR(32) NOT NULL, 
	observer_node_id VARCHAR(36) NOT NULL, 
	snr FLOAT, 
	observed_at DATETIME NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	path_len INTEGER, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_event_observers_hash_node UNIQUE (event_hash, observer_node_id), 
	FOREIGN KEY(observer_node_id) REFERENCES nodes (id) ON DELETE CASCADE
);
CREATE INDEX ix_event_observers_event_hash ON event_observers (event_hash);
CREATE INDEX ix_event_observers_observer_node_id ON event_observers (observer_node_id);
CREATE INDEX ix_event_observers_type_hash ON event_observers (event_type, event_hash);

CREATE TABLE routes (
	id VARCHAR(36) NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	from_label VARCHAR(255) NOT NULL, 
	to_label VARCHAR(255) NOT NULL, 
	description TEXT, 
	visibility VARCHAR(20) NOT NULL, 
	match_width INTEGER NOT NULL, 
	window_hours INTEGER NOT NULL, 
	packet_count_threshold INTEGER NOT NULL, 
	clear_threshold INTEGER, 
	max_hop_span INTEGER, 
	enabled BOOLEAN NOT NULL, 
	reversible BOOLEAN DEFAULT true NOT NULL, max_path_length INTEGER, created_by VARCHAR(255), 
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_routes_from_to ON routes (from_label, to_label);

CREATE TABLE route_results (
	id VARCHAR(36) NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	route_id VARCHAR(36) NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	quality VARCHAR(20) NOT NULL, 
	matched_count INTEGER NOT NULL, 
	threshold INTEGER NOT NULL, 
	effective_clear INTEGER NOT NULL, 
	evaluated_at DATETIME NOT NULL, 
	quality_avg VARCHAR(20), 
	PRIMARY KEY (id), 
	FOREIGN KEY(route_id) REFERENCES routes (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_route_results_route_id ON route_results (route_id);

CREATE TABLE route_result_history (
	id VARCHAR(36) NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	route_id VARCHAR(36) NOT NULL, 
	date DATE NOT NULL, 
	quality VARCHAR(20) NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	matched_count INTEGER NOT NULL, 
	evaluated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(route_id) REFERENCES routes (id) ON DELETE CASCADE, 
	CONSTRAINT uq_route_result_history_route_date UNIQUE (route_id, date)
);
CREATE INDEX ix_route_result_history_route_id ON route_result_history (route_id);
CREATE INDEX ix_route_result_history_route_id_date ON route_result_history (route_id, date);

CREATE TABLE raw_packets (
	observer_node_id VARCHAR, 
	packet_hash VARCHAR(32), 
	raw_hex TEXT, 
	packet_type INTEGER, 
	payload_type INTEGER, 
	event_type VARCHAR(50), 
	channel_idx INTEGER, 
	source_pubkey_prefix VARCHAR(12), 
	route_type VARCHAR(20), 
	path_len INTEGER, 
	snr FLOAT, 
	decoded JSON, 
	received_at DATETIME NOT NULL, 
	id VARCHAR NOT NULL, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, path_hash_bytes INTEGER, event_hash VARCHAR(32), 
	PRIMARY KEY (id), 
	FOREIGN KEY(observer_node_id) REFERENCES nodes (id) ON DELETE SET NULL
);
CREATE INDEX ix_raw_packets_channel_idx ON raw_packets (channel_idx);
CREATE INDEX ix_raw_packets_channel_idx_received_at ON raw_packets (channel_idx, received_at);
CREATE INDEX ix_raw_packets_event_hash ON raw_packets (event_hash);
CREATE INDEX ix_raw_packets_event_type ON raw_packets (event_type);
CREATE INDEX ix_raw_packets_event_type_received_at ON raw_packets (event_type, received_at);
CREATE INDEX ix_raw_packets_observer_node_id ON raw_packets (observer_node_id);
CREATE INDEX ix_raw_packets_packet_hash ON raw_packets (packet_hash);
CREATE INDEX ix_raw_packets_packet_hash_received_at ON raw_packets (packet_hash, received_at);
CREATE INDEX ix_raw_packets_packet_type ON raw_packets (packet_type);
CREATE INDEX ix_raw_packets_received_at ON raw_packets (received_at);
CREATE INDEX ix_raw_packets_source_pubkey_prefix ON raw_packets (source_pubkey_prefix);
CREATE INDEX ix_raw_packets_source_pubkey_prefix_received_at ON raw_packets (source_pubkey_prefix, received_at);

CREATE TABLE "events_log" (
	id VARCHAR NOT NULL, 
	observer_node_id VARCHAR, 
	event_type VARCHAR(50) NOT NULL, 
	payload JSON, 
	received_at DATETIME NOT NULL, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(observer_node_id) REFERENCES nodes (id) ON DELETE SET NULL
);
CREATE INDEX ix_events_log_event_type ON events_log (event_type);
CREATE INDEX ix_events_log_observer_node_id ON events_log (observer_node_id);
CREATE INDEX ix_events_log_received_at ON events_log (received_at);

CREATE TABLE "telemetry" (
	id VARCHAR NOT NULL, 
	observer_node_id VARCHAR, 
	node_id VARCHAR, 
	node_public_key VARCHAR(64) NOT NULL, 
	lpp_data BLOB, 
	parsed_data JSON, 
	received_at DATETIME NOT NULL, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	event_hash VARCHAR(32), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_telemetry_event_hash UNIQUE (event_hash), 
	FOREIGN KEY(observer_node_id) REFERENCES nodes (id) ON DELETE SET NULL, 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE SET NULL
);
CREATE INDEX ix_telemetry_node_id ON telemetry (node_id);
CREATE INDEX ix_telemetry_node_public_key ON telemetry (node_public_key);
CREATE INDEX ix_telemetry_observer_node_id ON telemetry (observer_node_id);
CREATE INDEX ix_telemetry_received_at ON telemetry (received_at);

CREATE TABLE "trace_paths" (
	id VARCHAR NOT NULL, 
	observer_node_id VARCHAR, 
	initiator_tag BIGINT NOT NULL, 
	path_len INTEGER, 
	flags INTEGER, 
	auth INTEGER, 
	path_hashes JSON, 
	snr_values JSON, 
	hop_count INTEGER, 
	received_at DATETIME NOT NULL, 
	created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	updated_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL, 
	event_hash VARCHAR(32), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_trace_paths_event_hash UNIQUE (event_hash), 
	FOREIGN KEY(observer_node_id) REFERENCES nodes (id) ON DELETE SET NULL
);
CREATE INDEX ix_trace_paths_initiator_tag ON trace_paths (initiator_tag);
CREATE INDEX ix_trace_paths_observer_node_id ON trace_paths (observer_node_id);
CREATE INDEX ix_trace_paths_received_at ON trace_paths (received_at);

CREATE TABLE route_nodes (
	id VARCHAR(36) NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	route_id VARCHAR(36) NOT NULL, 
	node_id VARCHAR(36) NOT NULL, 
	position INTEGER NOT NULL, 
	expected_hash VARCHAR(6), 
	PRIMARY KEY (id), 
	FOREIGN KEY(route_id) REFERENCES routes (id) ON DELETE CASCADE, 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE
);
CREATE INDEX ix_route_nodes_node_id ON route_nodes (node_id);
CREATE INDEX ix_route_nodes_route_id ON route_nodes (route_id);

CREATE TABLE route_observers (
	id VARCHAR(36) NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	route_id VARCHAR(36) NOT NULL, 
	node_id VARCHAR(36) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(route_id) REFERENCES routes (id) ON DELETE CASCADE, 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE
);
CREATE INDEX ix_route_observers_node_id ON route_observers (node_id);
CREATE INDEX ix_route_observers_route_id ON route_observers (route_id);

CREATE TABLE packet_path_hops (
	id VARCHAR(36) NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	raw_packet_id VARCHAR(36) NOT NULL, 
	position INTEGER NOT NULL, 
	node_hash VARCHAR(6) NOT NULL, 
	packet_hash VARCHAR(32), 
	event_hash VARCHAR(32), 
	received_at DATETIME NOT NULL, 
	observer_node_id VARCHAR(36), 
	PRIMARY KEY (id), 
	FOREIGN KEY(raw_packet_id) REFERENCES raw_packets (id) ON DELETE CASCADE, 
	FOREIGN KEY(observer_node_id) REFERENCES nodes (id) ON DELETE SET NULL
);
CREATE INDEX ix_packet_path_hops_event_hash_received_at ON packet_path_hops (event_hash, received_at);
CREATE INDEX ix_packet_path_hops_node_hash_received_at ON packet_path_hops (node_hash, received_at);
CREATE INDEX ix_packet_path_hops_raw_packet_id_position ON packet_path_hops (raw_packet_id, position);
CREATE INDEX ix_packet_path_hops_received_at ON packet_path_hops (received_at);

CREATE TABLE route_recent_matches (
	id VARCHAR(36) NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	route_id VARCHAR(36) NOT NULL, 
	raw_packet_id VARCHAR(36) NOT NULL, 
	first_position INTEGER NOT NULL, 
	last_position INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(route_id) REFERENCES routes (id) ON DELETE CASCADE, 
	FOREIGN KEY(raw_packet_id) REFERENCES raw_packets (id) ON DELETE CASCADE, 
	CONSTRAINT uq_route_recent_matches_route_packet UNIQUE (route_id, raw_packet_id)
);
CREATE INDEX ix_route_recent_matches_route_id ON route_recent_matches (route_id);

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
