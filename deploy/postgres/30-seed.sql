-- A small seed catalogue, so the stack has content to join with before
-- `enricher datagen` runs (datagen adopts these rows and tops the catalogue
-- up to its --catalogue size). Debezium's initial snapshot (snapshot.mode=
-- initial) sends every row below as an op "r" record.
--
-- Fixed ids, so README-operations.md can show real curl commands:
--   curl -s localhost:8080/debug/content/c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03
INSERT INTO content (id, slug, title, content_type, length_seconds, publish_ts) VALUES
  ('c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03', 'fnjan-412-saudi-coffee',       'فنجان: قصة القهوة السعودية',               'podcast',    4380, '2025-01-06T17:00:00Z'),
  ('0b6d3c1e-8f2a-4c57-9e10-5a7b2d4c6e81', 'fnjan-413-desert-astronomy',   'Fnjan #413: Astronomy in the desert',      'podcast',    5215, '2025-01-13T17:00:00Z'),
  ('1f2e3d4c-5b6a-4789-8abc-def012345678', 'sowt-ep-88-riyadh-metro',      'صوت: كيف بُني مترو الرياض',                 'podcast',    2710, '2025-02-03T06:00:00Z'),
  ('2a4c6e80-1b3d-4f5a-8c7e-9d0f1a2b3c4d', 'thmanyah-weekly-101',          'ثمانية الأسبوعية ١٠١: ملخص الأسبوع',        'newsletter',  420, '2025-02-07T07:00:00Z'),
  ('3b5d7f91-2c4e-4a6b-9d8f-0e1a2b3c4d5e', 'thmanyah-weekly-102',          'Thmanyah Weekly 102: the reading list',    'newsletter',  510, '2025-02-14T07:00:00Z'),
  ('4c6e8a02-3d5f-4b7c-8e9a-1f2b3c4d5e6f', 'doc-falconry-short',           'الصقارة: فيلم قصير',                       'video',       960, '2025-03-01T15:30:00Z'),
  ('5d7f9b13-4e6a-4c8d-9fab-2a3c4d5e6f70', 'explainer-vision-2030',        'Explainer: Vision 2030 in 12 minutes',     'video',       734, '2025-03-09T12:00:00Z'),
  ('6e8a0c24-5f7b-4d9e-8abc-3b4d5e6f7081', 'fnjan-414-mixed-arabic-en',    'Fnjan #414: الذكاء الاصطناعي and us',       'podcast',    6022, '2025-03-17T17:00:00Z'),
  ('7f9b1d35-6a8c-4eaf-9bcd-4c5e6f708192', 'sowt-ep-89-no-length-yet',     'صوت: حلقة قيد التحرير',                     'podcast',    NULL, '2025-03-24T06:00:00Z'),
  ('80ac2e46-7b9d-4fb0-8cde-5d6f708192a3', 'clip-untyped-teaser',          'Teaser (type not set yet)',                NULL,          45, '2025-03-30T09:00:00Z');

-- A few engagement events on the seed catalogue: plays, a pause, a finish,
-- a click with no duration (engagement_seconds NULL), and one event whose
-- content has no length (engagement_pct NULL).
INSERT INTO engagement_events (content_id, user_id, event_type, event_ts, duration_ms, device, raw_payload) VALUES
  ('c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03', '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d', 'play',   '2025-04-01T12:30:00Z', 12340,   'ios',     '{"app_version":"5.2.0","network":"wifi","position_ms":0}'),
  ('c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03', '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d', 'pause',  '2025-04-01T12:50:00Z', 1200000, 'ios',     '{"app_version":"5.2.0","network":"wifi","position_ms":12340}'),
  ('0b6d3c1e-8f2a-4c57-9e10-5a7b2d4c6e81', 'b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e', 'finish', '2025-04-01T13:05:00Z', 5100000, 'android', '{"app_version":"5.1.9","network":"4g","position_ms":0}'),
  ('2a4c6e80-1b3d-4f5a-8c7e-9d0f1a2b3c4d', 'c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f', 'click',  '2025-04-01T07:02:00Z', NULL,    'web',     '{"app_version":"web-2025.03","network":"wifi","position_ms":0}'),
  ('7f9b1d35-6a8c-4eaf-9bcd-4c5e6f708192', 'd4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f80', 'play',   '2025-04-01T06:15:00Z', 60000,   'tv',      '{"app_version":"tv-3.0.1","network":"ethernet","position_ms":0}');
